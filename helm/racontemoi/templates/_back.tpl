{{/*
The back's container parts shared by its Deployment (or StatefulSet, with persistence) and its
Knative Service: environment, volume mounts and volumes. PORT is set by the caller: 5000 in a
Deployment, injected by Knative (8080) in the Knative mode.
*/}}

{{/* The back's env entries, PORT excepted. */}}
{{- define "racontemoi.backEnv" -}}
{{- $credentials := include "racontemoi.credentialsSecretName" . }}
{{- $database := include "racontemoi.database" . }}
- name: STUDENTS_API_PREFIX
  value: {{ .Values.students.apiPrefix | quote }}
{{- if include "racontemoi.databaseThroughPooler" . }}
{{- /* Through the Pooler: the operator's Secret has no URL naming the pooler's Service, so the
URL is made here from its username and password (letters and digits, as the operator generates
them: nothing to percent-encode), by the kubelet's $(VAR) expansion; the password never appears
in the manifests. */}}
- name: STUDENTS_DATABASE_POOLER_USER
  valueFrom:
    secretKeyRef:
      name: {{ include "racontemoi.databaseCluster" . }}-app
      key: username
- name: STUDENTS_DATABASE_POOLER_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "racontemoi.databaseCluster" . }}-app
      key: password
- name: STUDENTS_DATABASE_URL
  value: {{ printf "postgresql://$(STUDENTS_DATABASE_POOLER_USER):$(STUDENTS_DATABASE_POOLER_PASSWORD)@%s.%s:5432/app" (include "racontemoi.databasePooler" .) .Release.Namespace | quote }}
- name: STUDENTS_DATABASE_CA_FILE
  value: /run/secrets/racontemoi-db-ca/ca.crt
{{- else if $database }}
{{- /* PostgreSQL: every replica writes; the URL (with its password) is a mounted file. */}}
- name: STUDENTS_DATABASE_URL_FILE
  value: /run/secrets/racontemoi-db/url
{{- if include "racontemoi.databaseCaVolume" . }}
- name: STUDENTS_DATABASE_CA_FILE
  value: /run/secrets/racontemoi-db-ca/ca.crt
{{- end }}
{{- else }}
- name: STUDENT_AGE_FILE
  value: /data/student_age.json
{{- end }}
{{- if not (or $database .Values.students.persistence.enabled) }}
{{- /* The ConfigMap store is read-only by design: no lock, writes answer 503, the back is ready.
With persistence the store is meant to be writable, so one that cannot be locked or written
keeps the back unready (STUDENTS_READ_ONLY=false, the back's default). */}}
- name: STUDENTS_READ_ONLY
  value: "true"
{{- end }}
{{- if or .Values.stories.lines .Values.stories.existingConfigMap }}
- name: STORIES_FILE
  value: {{ printf "/etc/racontemoi/stories/%s" .Values.stories.key | quote }}
{{- end }}
{{- if $credentials }}
- name: API_USERNAME_FILE
  value: /run/secrets/racontemoi-api/username
- name: API_PASSWORD_FILE
  value: /run/secrets/racontemoi-api/password
{{- end }}
{{- with include "racontemoi.userEnv" .Values.back | trim }}
{{ . }}
{{- end }}
{{- end }}

{{- define "racontemoi.backVolumeMounts" -}}
{{- if include "racontemoi.database" . }}
{{- if not (include "racontemoi.databaseThroughPooler" .) }}
- name: database
  mountPath: /run/secrets/racontemoi-db
  readOnly: true
{{- end }}
{{- if include "racontemoi.databaseCaVolume" . }}
- name: database-ca
  mountPath: /run/secrets/racontemoi-db-ca
  readOnly: true
{{- end }}
{{- else }}
- name: students
  mountPath: /data
  readOnly: {{ not .Values.students.persistence.enabled }}
{{- end }}
{{- if or .Values.stories.lines .Values.stories.existingConfigMap }}
- name: stories
  mountPath: /etc/racontemoi/stories
  readOnly: true
{{- end }}
{{- if include "racontemoi.credentialsSecretName" . }}
- name: api-credentials
  mountPath: /run/secrets/racontemoi-api
  readOnly: true
{{- end }}
{{- end }}

{{- define "racontemoi.backVolumes" -}}
{{- $credentials := include "racontemoi.credentialsSecretName" . }}
{{- $database := include "racontemoi.database" . }}
{{- if $database }}
{{- if not (include "racontemoi.databaseThroughPooler" .) }}
- name: database
  secret:
    {{- if eq $database "cloudnativepg" }}
    # Made by the CloudNativePG operator: postgresql://app:...@<cluster>-rw.<namespace>:5432/app
    secretName: {{ include "racontemoi.databaseCluster" . }}-app
    {{- else }}
    secretName: {{ .Values.students.database.existingSecret }}
    {{- end }}
    defaultMode: 0440
    items:
      - key: {{ ternary "uri" .Values.students.database.urlKey (eq $database "cloudnativepg") }}
        path: url
{{- end }}
{{- with include "racontemoi.databaseCaVolume" . }}
- name: database-ca
  {{- . | trim | nindent 2 }}
{{- end }}
{{- else }}
- name: students
  {{- if .Values.students.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ default (printf "%s-students" (include "racontemoi.fullname" .)) .Values.students.persistence.existingClaim }}
  {{- else }}
  configMap:
    name: {{ include "racontemoi.fullname" . }}-students
  {{- end }}
{{- end }}
{{- if or .Values.stories.lines .Values.stories.existingConfigMap }}
- name: stories
  configMap:
    name: {{ default (printf "%s-stories" (include "racontemoi.fullname" .)) .Values.stories.existingConfigMap }}
    items:
      - key: {{ .Values.stories.key }}
        path: {{ .Values.stories.key }}
{{- end }}
{{- if $credentials }}
- name: api-credentials
  secret:
    secretName: {{ $credentials }}
    defaultMode: 0440
    items:
      - key: {{ .Values.students.auth.usernameKey }}
        path: username
      - key: {{ .Values.students.auth.passwordKey }}
        path: password
{{- end }}
{{- end }}

{{/* Pod annotations that roll the back when its configuration changes. */}}
{{- define "racontemoi.backChecksums" -}}
checksum/students: {{ include (print .Template.BasePath "/students-configmap.yaml") . | sha256sum }}
checksum/stories: {{ include (print .Template.BasePath "/stories-configmap.yaml") . | sha256sum }}
checksum/credentials: {{ include (print .Template.BasePath "/students-secret.yaml") . | sha256sum }}
{{- end }}

{{/*
The volume source of the database's CA ("" when none): the Cluster's own CA with CloudNativePG
(only its ca.crt: the Secret also holds the CA's key), else students.database.ca's Secret or
ConfigMap.
*/}}
{{- define "racontemoi.databaseCaVolume" -}}
{{- $ca := .Values.students.database.ca }}
{{- $database := include "racontemoi.database" . }}
{{- if eq $database "cloudnativepg" }}
secret:
  secretName: {{ include "racontemoi.databaseCluster" . }}-ca
  defaultMode: 0440
  items:
    - key: ca.crt
      path: ca.crt
{{- else if and (eq $database "external") $ca.secretName }}
secret:
  secretName: {{ $ca.secretName }}
  defaultMode: 0440
  items:
    - key: {{ $ca.key }}
      path: ca.crt
{{- else if and (eq $database "external") $ca.configMapName }}
configMap:
  name: {{ $ca.configMapName }}
  items:
    - key: {{ $ca.key }}
      path: ca.crt
{{- end }}
{{- end }}
