# The bootstrap gateway image, built by the stack (`ContainerImage.fromAsset`) when the context
# flag lwm2m-bs:gateway=true is set. No build step: tsx (a runtime dependency) loads the
# TypeScript sources, as `cli/bin.mjs` does everywhere else.
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
COPY infra/container ./infra/container
USER node
EXPOSE 5683/udp 5684/udp 8080/tcp
# PLACEHOLDER: runs `lwm2m-bs serve` with a store local to the task until the gateway entry
# point with the IoT Core (MQTT) backend channel exists; see docs/aws.md.
CMD ["node", "infra/container/placeholder-gateway.mjs"]
