{{/* Names: the release's full name, "streamforge" for a release named so. */}}
{{- define "streamforge.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "streamforge.tag" -}}
{{- .Values.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{/* An image of the table: include "streamforge.image" (list . "operator") */}}
{{- define "streamforge.image" -}}
{{- $root := index . 0 -}}
{{- $registry := trimSuffix "/" $root.Values.image.registry -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry (index . 1) (include "streamforge.tag" $root) -}}
{{- else -}}
{{- printf "%s:%s" (index . 1) (include "streamforge.tag" $root) -}}
{{- end -}}
{{- end -}}

{{/* Labels of a component: include "streamforge.labels" (list . "operator") */}}
{{- define "streamforge.labels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: streamforge-{{ index . 1 }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/part-of: streamforge
app.kubernetes.io/version: {{ include "streamforge.tag" $root | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version }}
{{- end -}}

{{- define "streamforge.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: streamforge-{{ index . 1 }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{- end -}}

{{/* WORKER_EXTRA_ENV: the Binance settings and workers.extraEnv as NAME=value,... */}}
{{- define "streamforge.workerExtraEnv" -}}
{{- $pairs := list -}}
{{- with .Values.binance.baseUrl }}{{ $pairs = append $pairs (printf "BINANCE_BASE_URL=%s" .) }}{{ end -}}
{{- with .Values.binance.wsUrl }}{{ $pairs = append $pairs (printf "BINANCE_WS_URL=%s" .) }}{{ end -}}
{{- with .Values.binance.weightBudget | toString }}{{ if ne . "" }}{{ $pairs = append $pairs (printf "WEIGHT_BUDGET=%s" .) }}{{ end }}{{ end -}}
{{- range $k, $v := .Values.workers.extraEnv }}
{{- if or (contains "," (toString $v)) (contains "," $k) }}{{ fail (printf "workers.extraEnv.%s: a value may not contain a comma" $k) }}{{ end }}
{{- $pairs = append $pairs (printf "%s=%v" $k $v) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{- define "streamforge.podSecurity" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "streamforge.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* The image prefixes Queues may use, as a list. */}}
{{- define "streamforge.allowedImages" -}}
{{- $prefixes := .Values.imagePolicy.allowedPrefixes -}}
{{- if not $prefixes -}}
{{- $registry := trimSuffix "/" .Values.image.registry -}}
{{- $prefixes = ternary (list) (list (printf "%s/" $registry)) (eq $registry "") -}}
{{- end -}}
{{- toJson $prefixes -}}
{{- end -}}
