// The only public entry of @storx-backup/service-kit.
export * from './units.js';
export * from './option-spec.js';
export * from './layered-config.js';
export * from './logger.js';
export * from './shutdown.js';
export * from './command-line.js';
export * from './options-markdown.js';
export * from './command-dispatch.js';
export * from './listen-errors.js';
