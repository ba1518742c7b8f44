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
{{- if and $pdb.enabled (not (kindIs "invalid" $pdb.maxUnavailable)) (eq (toString $pdb.maxUnavailable | trimSuffix "%") "0") }}
{{- fail (printf "%s.pdb.maxUnavailable: 0 blocks every node drain; use 1 (or minAvailable)" $component) }}
{{- end }}
{{- end }}
{{- include "racontemoi.validateDatabase" . }}
{{- end }}

{{/*
The back's pool size when back.env leaves STUDENTS_DATABASE_POOL_SIZE unset: a copy of the back's
default (back/src/config.rs), checked against it by tests/deploy/test_database_day2.py.
*/}}
{{- define "racontemoi.backPoolSizeDefault" -}}16{{- end }}

{{/*
The most back processes that hold database connections at once: Knative's maxScale, or the
Deployment's replicas (the HPA's maxReplicas when it is on) plus the rolling update's surge (1).
*/}}
{{- define "racontemoi.backMaxProcesses" -}}
{{- if .Values.knative.enabled }}
{{- .Values.knative.maxScale }}
{{- else if .Values.back.autoscaling.enabled }}
{{- add .Values.back.autoscaling.maxReplicas 1 }}
{{- else }}
{{- add (include "racontemoi.backReplicas" . | int) 1 }}
{{- end }}
{{- end }}

{{/* Rules of the database modes that the schema cannot express (each fails in one line). */}}
{{- define "racontemoi.validateDatabase" -}}
{{- $cnpg := .Values.students.database.cloudnativepg }}
{{- if $cnpg.enabled }}
{{- $params := $cnpg.parameters }}
{{- $max := int (default "100" (get $params "max_connections")) }}
{{- $reserved := add (int (default "3" (get $params "superuser_reserved_connections"))) (int (default "0" (get $params "reserved_connections"))) }}
{{- $budget := sub $max $reserved }}
{{- $pool := int (default (include "racontemoi.backPoolSizeDefault" .) (toString (default "" .Values.back.env.STUDENTS_DATABASE_POOL_SIZE))) }}
{{- if $cnpg.pooler.enabled }}
{{- $serverSide := mul $cnpg.pooler.instances (int (default "20" (toString (default "" (get $cnpg.pooler.parameters "default_pool_size"))))) }}
{{- if gt $serverSide $budget }}
{{- fail (printf "students.database.cloudnativepg: the Pooler may open %d server connections (pooler.instances %d x default_pool_size), more than max_connections %d less %d reserved: raise parameters.max_connections or lower pooler.parameters.default_pool_size" $serverSide (int $cnpg.pooler.instances) $max $reserved) }}
{{- end }}
{{- if and (eq $cnpg.pooler.poolMode "transaction") (eq (toString (default "" (get $cnpg.pooler.parameters "max_prepared_statements"))) "0") }}
{{- fail "students.database.cloudnativepg.pooler: poolMode transaction with max_prepared_statements 0 breaks the back's prepared statements; remove it (PgBouncer 1.21+ tracks them)" }}
{{- end }}
{{- else }}
{{- if and .Values.knative.enabled (eq (int .Values.knative.maxScale) 0) }}
{{- fail "knative.maxScale 0 (no limit) with a CloudNativePG database: the backs' connections would have no bound under max_connections; set knative.maxScale, or students.database.cloudnativepg.pooler.enabled" }}
{{- end }}
{{- $backs := include "racontemoi.backMaxProcesses" . | int }}
{{- if gt (mul $backs $pool) $budget }}
{{- fail (printf "students.database.cloudnativepg: %d backs x STUDENTS_DATABASE_POOL_SIZE %d = %d connections, more than max_connections %d less %d reserved: raise parameters.max_connections, lower the backs or the pool, or enable pooler" $backs $pool (mul $backs $pool) $max $reserved) }}
{{- end }}
{{- end }}
{{- if and $cnpg.synchronous.enabled (gt (int $cnpg.synchronous.number) (sub (int $cnpg.instances) 1)) }}
{{- fail (printf "students.database.cloudnativepg.synchronous.number %d needs at least %d instances (a primary and that many standbys)" (int $cnpg.synchronous.number) (add $cnpg.synchronous.number 1)) }}
{{- end }}
{{- if and $cnpg.enablePDB (eq (int $cnpg.instances) 1) }}
{{- fail "students.database.cloudnativepg.enablePDB with 1 instance blocks every node drain: set enablePDB=false, or instances >= 2" }}
{{- end }}
{{- $memory := $cnpg.resources.limits.memory }}
{{- if and $memory (ne (toString $memory) (toString (default "" $cnpg.resources.requests.memory))) }}
{{- fail "students.database.cloudnativepg.resources: set requests.memory equal to limits.memory (PostgreSQL's memory is not overcommitted)" }}
{{- end }}
{{- $backups := $cnpg.backups }}
{{- if $cnpg.recovery.enabled }}
{{- if and (not $cnpg.recovery.backupName) (not $backups.destinationPath) }}
{{- fail "students.database.cloudnativepg.recovery: name a Backup (recovery.backupName) or the object store (backups.destinationPath, backups.s3.secretName) to restore from" }}
{{- end }}
{{- $cluster := include "racontemoi.databaseCluster" . }}
{{- if and $backups.enabled $backups.destinationPath (eq (default $cluster $backups.serverName) (default $cluster $cnpg.recovery.serverName)) }}
{{- fail "students.database.cloudnativepg: the restored Cluster would archive into the folder it restores from: set backups.serverName to a new name (e.g. <release>-db-2)" }}
{{- end }}
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

{{/* The Barman Cloud ObjectStore of the Cluster's backups. */}}
{{- define "racontemoi.databaseObjectStore" -}}
{{- printf "%s-backups" (include "racontemoi.databaseCluster" .) }}
{{- end }}

{{/* The name a restored Cluster gives its source (externalClusters). */}}
{{- define "racontemoi.databaseRecoverySource" -}}
{{- printf "%s-origin" (include "racontemoi.databaseCluster" .) }}
{{- end }}

{{/* The CloudNativePG Pooler, and its Service: <cluster>-pooler-rw. */}}
{{- define "racontemoi.databasePooler" -}}
{{- printf "%s-pooler-rw" (include "racontemoi.databaseCluster" .) }}
{{- end }}

{{/* "true" when the back reaches the CloudNativePG Cluster through its Pooler. */}}
{{- define "racontemoi.databaseThroughPooler" -}}
{{- if and .Values.students.database.cloudnativepg.enabled .Values.students.database.cloudnativepg.pooler.enabled }}true{{ end }}
{{- end }}
