{{/* The chart name, overridable. */}}
{{- define "racontemoi.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's base name, trimmed so that "<fullname>-front" stays a valid 63-character name.
A release name that already contains the chart name is used as is.
*/}}
{{- define "racontemoi.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 56 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 56 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 56 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "racontemoi.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The name of one component's objects: (dict "root" $ "component" "back"). */}}
{{- define "racontemoi.componentName" -}}
{{- printf "%s-%s" (include "racontemoi.fullname" .root) .component }}
{{- end }}

{{/*
Selector labels of one component: (dict "root" $ "component" "back").
They never change between releases: no version, no chart label.
*/}}
{{- define "racontemoi.selectorLabels" -}}
app.kubernetes.io/name: {{ include "racontemoi.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* All labels of one component's objects: (dict "root" $ "component" "back"). */}}
{{- define "racontemoi.labels" -}}
{{ include "racontemoi.selectorLabels" . }}
helm.sh/chart: {{ include "racontemoi.chart" .root }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: racontemoi
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{- define "racontemoi.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "racontemoi.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest is set: (dict "root" $ "image" .image). */}}
{{- define "racontemoi.image" -}}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) }}
{{- end }}
{{- end }}

{{/*
The URL nginx proxies to: front.backUrl, or this release's back Service by its full name
(<name>.<namespace>.svc.<clusterDomain>: nginx re-resolves it at run time through DNS, which does
not apply the search list); in the Knative mode the Knative Service's cluster-local address (port
80, routed by its Host header, which nginx sets from this URL).
*/}}
{{- define "racontemoi.backUrl" -}}
{{- $back := printf "%s.%s.svc.%s" (include "racontemoi.componentName" (dict "root" . "component" "back")) .Release.Namespace .Values.clusterDomain }}
{{- if .Values.front.backUrl }}
{{- .Values.front.backUrl }}
{{- else if .Values.knative.enabled }}
{{- printf "http://%s" $back }}
{{- else }}
{{- printf "http://%s:%d" $back (int .Values.back.service.port) }}
{{- end }}
{{- end }}

{{/* The Secret holding the student API credentials, or "" when none is configured. */}}
{{- define "racontemoi.credentialsSecretName" -}}
{{- if .Values.students.auth.existingSecret }}
{{- .Values.students.auth.existingSecret }}
{{- else if .Values.students.auth.username }}
{{- printf "%s-api-credentials" (include "racontemoi.fullname" .) }}
{{- end }}
{{- end }}

{{/*
Where the students live: "cloudnativepg" (a Cluster of this release), "external" (a URL from
students.database.existingSecret), or "" (the file: a read-only ConfigMap, or a PVC with
persistence).
*/}}
{{- define "racontemoi.database" -}}
{{- if .Values.students.database.cloudnativepg.enabled }}cloudnativepg
{{- else if .Values.students.database.existingSecret }}external
{{- end }}
{{- end }}

{{/* The CloudNativePG Cluster's name; the operator names its Services and Secrets after it. */}}
{{- define "racontemoi.databaseCluster" -}}
{{- printf "%s-db" (include "racontemoi.fullname" .) }}
{{- end }}

{{/* The back replicas: one when the store is a writable volume. */}}
{{- define "racontemoi.backReplicas" -}}
{{- if .Values.students.persistence.enabled }}1{{ else }}{{ .Values.back.replicaCount }}{{ end }}
{{- end }}

{{/* Rules across values that the schema cannot express. */}}
{{- define "racontemoi.validate" -}}
{{- $auth := .Values.students.auth }}
{{- if and (not $auth.existingSecret) (ne (empty $auth.username) (empty $auth.password)) }}
{{- fail "students.auth: set both username and password, or neither (or use existingSecret)" }}
{{- end }}
{{- if .Values.students.persistence.enabled }}
{{- if .Values.back.autoscaling.enabled }}
{{- fail "students.persistence.enabled runs a single back replica: disable back.autoscaling" }}
{{- end }}
{{- if .Values.back.pdb.enabled }}
{{- fail "students.persistence.enabled runs a single back replica: a back PodDisruptionBudget would block every node drain; disable back.pdb" }}
{{- end }}
{{- end }}
{{- if .Values.knative.enabled }}
{{- if .Values.students.persistence.enabled }}
{{- fail "knative.enabled and students.persistence.enabled: a writable file cannot follow back instances that come and go (scale to zero); the Knative mode serves the read-only ConfigMap store: disable students.persistence" }}
{{- end }}
{{- if .Values.back.autoscaling.enabled }}
{{- fail "knative.enabled: Knative scales the back itself (knative.minScale, knative.maxScale): disable back.autoscaling" }}
{{- end }}
{{- if .Values.back.pdb.enabled }}
{{- fail "knative.enabled: Knative removes idle back instances itself; a PodDisruptionBudget does not apply: disable back.pdb" }}
{{- end }}
{{- if .Values.serviceMonitor.enabled }}
{{- fail "knative.enabled: the ServiceMonitor scrapes the back's Service, which the Knative mode replaces: disable serviceMonitor" }}
{{- end }}
{{- end }}
{{- if and .Values.httpRoute.enabled (not .Values.httpRoute.parentRefs) }}
{{- fail "httpRoute.enabled: name the Gateway to attach to in httpRoute.parentRefs (e.g. [{name: my-gateway, namespace: gateway-system}])" }}
{{- end }}
{{- if and .Values.stories.lines .Values.stories.existingConfigMap }}
{{- fail "stories: set lines or existingConfigMap, not both" }}
{{- end }}
{{- range $component := list "back" "front" }}
{{- $pdb := (index $.Values $component).pdb }}
{{- if and $pdb.enabled (eq (kindIs "invalid" $pdb.minAvailable) (kindIs "invalid" $pdb.maxUnavailable)) }}
{{- fail (printf "%s.pdb: set exactly one of minAvailable and maxUnavailable (the other null)" $component) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Pod-level settings shared by every pod of a component: (dict "root" $ "values" .Values.back
"component" "back").
*/}}
{{- define "racontemoi.podSpecCommon" -}}
serviceAccountName: {{ include "racontemoi.serviceAccountName" .root }}
automountServiceAccountToken: false
enableServiceLinks: false
terminationGracePeriodSeconds: {{ .values.terminationGracePeriodSeconds }}
{{- with .values.image.pullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .values.podSecurityContext | nindent 2 }}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- range .values.topologySpreadConstraints }}
  {{- $constraint := . }}
  {{- if not .labelSelector }}
  {{- $constraint = merge (dict "labelSelector" (dict "matchLabels" (include "racontemoi.selectorLabels" $ | fromYaml))) . }}
  {{- end }}
  - {{ toYaml $constraint | indent 4 | trim }}
  {{- end }}
{{- end }}
{{- end }}

{{/*
Container settings shared by both components: image, port, probes, lifecycle, resources and
security context: (dict "root" $ "values" .Values.back "component" "back" "port" 5000).
*/}}
{{- define "racontemoi.containerCommon" -}}
name: {{ .component }}
image: {{ include "racontemoi.image" (dict "root" .root "image" .values.image) | quote }}
imagePullPolicy: {{ .values.image.pullPolicy }}
ports:
  - name: http
    containerPort: {{ .port }}
    protocol: TCP
livenessProbe:
  {{- toYaml .values.probes.liveness | nindent 2 }}
readinessProbe:
  {{- toYaml .values.probes.readiness | nindent 2 }}
{{- with .values.probes.startup }}
startupProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if .values.preStopSleepSeconds }}
lifecycle:
  # The native sleep action: it needs no shell in the image.
  preStop:
    sleep:
      seconds: {{ .values.preStopSleepSeconds }}
{{- end }}
resources:
  {{- toYaml .values.resources | nindent 2 }}
securityContext:
  {{- toYaml .values.securityContext | nindent 2 }}
{{- end }}

{{/* The env map of a component (empty values skipped), then its extraEnv: (.values). */}}
{{- define "racontemoi.userEnv" -}}
{{- range $name, $value := .env }}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
- name: {{ $name }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- with .extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
