// The CoAP codec (RFC 7252 messages, RFC 7959 Block options) in one import for the gateway.
export * from './block.ts';
export * from './code.ts';
export * from './header.ts';
export * from './message.ts';
export * from './option.ts';
export { MAX_OPTION_VALUE_LENGTH } from './options-codec.ts';
export * from './uri.ts';
