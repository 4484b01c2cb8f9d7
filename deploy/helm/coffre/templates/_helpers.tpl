{{- define "coffre.name" -}}{{ .Release.Name }}-coffre{{- end -}}
{{- define "coffre.labels" -}}
app.kubernetes.io/name: coffre
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
