# The bootstrap gateway image (`lwm2m-bs gateway`), built by the stack (`ContainerImage.fromAsset`)
# when the context flag lwm2m-bs:gateway=true is set; it runs anywhere else too (docs/aws.md).
# No build step: tsx (a runtime dependency) loads the TypeScript sources, as `cli/bin.mjs` does
# everywhere else.
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production \
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY shared ./shared
COPY server ./server
COPY simulator ./simulator
COPY cli ./cli
USER node
EXPOSE 5683/udp 5684/udp 8080/tcp
# Configured by environment: LWM2M_BS_MQTT_URL and LWM2M_BS_GATEWAY_ID, the certificate and key
# as LWM2M_BS_MQTT_CERT_PEM/_KEY_PEM (PEM text, an ECS secret) or LWM2M_BS_MQTT_CERT/_KEY (files).
# IPv4 only: the load balancer in front of it is. The health port (8080) answers while the MQTT
# channel is connected. Node runs as PID 1 and handles SIGTERM: running sessions record their
# outcome before it exits.
CMD ["node", "cli/bin.mjs", "gateway", "--json", "--no-ipv6"]
