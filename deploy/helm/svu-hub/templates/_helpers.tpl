{{- define "svu-hub.name" -}}{{ .Release.Name | trunc 40 | trimSuffix "-" }}{{- end -}}

{{- define "svu-hub.labels" -}}
app.kubernetes.io/name: svu-hub
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "svu-hub.selector" -}}
app.kubernetes.io/name: svu-hub
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "svu-hub.secretName" -}}
{{- if .Values.existingSecret }}{{ .Values.existingSecret }}{{ else }}{{ include "svu-hub.name" . }}-secrets{{ end -}}
{{- end -}}

{{/* settings with what the chart mounts filled in (the Kafka CA when kafkaCA.secretName is set). */}}
{{- define "svu-hub.settings" -}}
{{- $settings := deepCopy .Values.settings -}}
{{- if .Values.kafkaCA.secretName -}}
{{- $kafka := deepCopy (default (dict) (get $settings "kafka")) -}}
{{- $_ := set $kafka "ssl_cafile" (printf "/etc/svu-hub/kafka-ca/%s" .Values.kafkaCA.key) -}}
{{- $_ := set $settings "kafka" $kafka -}}
{{- end -}}
{{- toToml $settings -}}
{{- end -}}

{{/* The port a role's /health, /ready and /metrics answer on, by name. */}}
{{- define "svu-hub.probePortName" -}}
{{- if eq .component "worker" }}probes{{ else }}http{{ end -}}
{{- end -}}

{{/* One Deployment, with probes, a hardened container and the configuration mounted. */}}
{{- define "svu-hub.deployment" -}}
{{- $v := .values | default (index .root.Values .component) -}}
{{- $root := .root -}}
{{- $probe := include "svu-hub.probePortName" . -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "svu-hub.name" .root }}-{{ .component }}
  labels:
    {{- include "svu-hub.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  {{- if not (and .root.Values.autoscaling.enabled (has .role (list "worker" "api"))) }}
  replicas: {{ $v.replicas }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "svu-hub.selector" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "svu-hub.selector" . | nindent 8 }}
        svu-hub/role: {{ .role }}
      annotations:
        checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 30
      securityContext:
        {{- toYaml .root.Values.podSecurityContext | nindent 8 }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .role }}
          image: "{{ .root.Values.image.repository }}:{{ .root.Values.image.tag }}"
          imagePullPolicy: {{ .root.Values.image.pullPolicy }}
          command: {{ toJson $v.command }}
          env:
            {{- if eq .role "worker" }}
            - name: HUB_KAFKA__GROUP_INSTANCE_ID
              valueFrom:
                fieldRef: {fieldPath: metadata.name}
            {{- end }}
            {{- if .root.Values.otel.endpoint }}
            - {name: OTEL_TRACES_EXPORTER, value: otlp}
            - {name: OTEL_EXPORTER_OTLP_ENDPOINT, value: {{ .root.Values.otel.endpoint | quote }}}
            - {name: OTEL_SERVICE_NAME, value: "{{ .root.Values.otel.serviceNamePrefix }}-{{ .component }}"}
            {{- with .root.Values.otel.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          envFrom:
            - secretRef:
                name: {{ include "svu-hub.secretName" .root }}
                optional: true
            {{- with $v.envFrom }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            {{- if eq .role "mllp" }}
            - {name: mllp, containerPort: {{ $v.port }}, protocol: TCP}
            - {name: http, containerPort: {{ $v.probePort }}, protocol: TCP}
            {{- else }}
            - {name: {{ $probe }}, containerPort: {{ $v.port }}, protocol: TCP}
            {{- end }}
          livenessProbe:
            httpGet: {path: /health, port: {{ $probe }}}
            periodSeconds: 10
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /ready, port: {{ $probe }}}
            periodSeconds: 5
            failureThreshold: 2
          resources:
            {{- toYaml $v.resources | nindent 12 }}
          securityContext:
            {{- toYaml .root.Values.securityContext | nindent 12 }}
          volumeMounts:
            - {name: config, mountPath: /etc/svu-hub, readOnly: true}
            - {name: rules, mountPath: /etc/svu-hub/rules, readOnly: true}
            {{- if .root.Values.kafkaCA.secretName }}
            - {name: kafka-ca, mountPath: /etc/svu-hub/kafka-ca, readOnly: true}
            {{- end }}
            - {name: data, mountPath: /app/var}
            - {name: tmp, mountPath: /tmp}
            {{- with $v.extraVolumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: config
          configMap:
            name: {{ include "svu-hub.name" .root }}-config
        - name: rules
          configMap:
            name: {{ include "svu-hub.name" .root }}-rules
        {{- if .root.Values.kafkaCA.secretName }}
        - name: kafka-ca
          secret:
            secretName: {{ .root.Values.kafkaCA.secretName }}
            items: [{key: {{ .root.Values.kafkaCA.key }}, path: {{ .root.Values.kafkaCA.key }}}]
        {{- end }}
        - name: data
          emptyDir: {}
        - name: tmp
          emptyDir: {medium: Memory, sizeLimit: 64Mi}
        {{- with $v.extraVolumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
{{- end -}}

{{/* Every role that runs: component name, role and its values (one per delivery system). */}}
{{- define "svu-hub.roles" -}}
{{- $roles := list -}}
{{- range $r := list "worker" "api" "mllp" -}}
{{- if (index $.Values $r).enabled -}}
{{- $roles = append $roles (dict "component" $r "role" $r) -}}
{{- end -}}
{{- end -}}
{{- if .Values.delivery.enabled -}}
{{- range $s := .Values.delivery.systems -}}
{{- $roles = append $roles (dict "component" (printf "delivery-%s" $s) "role" "delivery" "system" $s) -}}
{{- end -}}
{{- end -}}
{{- toJson $roles -}}
{{- end -}}
