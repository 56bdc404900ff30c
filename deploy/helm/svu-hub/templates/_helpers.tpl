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

{{/* One Deployment, with probes, a hardened container and the configuration mounted. */}}
{{- define "svu-hub.deployment" -}}
{{- $v := .values | default (index .root.Values .component) -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "svu-hub.name" .root }}-{{ .component }}
  labels:
    {{- include "svu-hub.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .component }}
spec:
  {{- if not (and .root.Values.autoscaling.enabled (ne .component "mllp")) }}
  replicas: {{ $v.replicas }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "svu-hub.selector" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "svu-hub.selector" . | nindent 8 }}
      annotations:
        checksum/config: {{ include (print .root.Template.BasePath "/configmap.yaml") .root | sha256sum }}
    spec:
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: 30
      securityContext:
        runAsNonRoot: true
        runAsUser: 10001
        runAsGroup: 10001
        fsGroup: 10001
        seccompProfile: {type: RuntimeDefault}
      containers:
        - name: {{ .component }}
          image: "{{ .root.Values.image.repository }}:{{ .root.Values.image.tag }}"
          imagePullPolicy: {{ .root.Values.image.pullPolicy }}
          command: {{ toJson $v.command }}
          {{- if eq .component "worker" }}
          env:
            - name: HUB_KAFKA__GROUP_INSTANCE_ID
              valueFrom:
                fieldRef: {fieldPath: metadata.name}
          {{- end }}
          envFrom:
            - secretRef:
                name: {{ include "svu-hub.secretName" .root }}
                optional: true
          ports:
            - name: {{ .portName }}
              containerPort: {{ $v.port }}
              protocol: TCP
            {{- if eq .component "mllp" }}
            - name: http
              containerPort: {{ $v.probePort }}
              protocol: TCP
            {{- end }}
          {{- $probe := ternary "http" .portName (eq .component "mllp") }}
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
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: ["ALL"]}
          volumeMounts:
            - {name: config, mountPath: /etc/svu-hub, readOnly: true}
            - {name: rules, mountPath: /etc/svu-hub/rules, readOnly: true}
            - {name: data, mountPath: /app/var}
      volumes:
        - name: config
          configMap:
            name: {{ include "svu-hub.name" .root }}-config
        - name: rules
          configMap:
            name: {{ include "svu-hub.name" .root }}-rules
        - name: data
          emptyDir: {}
{{- end -}}
