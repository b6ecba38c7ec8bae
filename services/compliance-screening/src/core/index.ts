export * from './addresses.js';
export * from './names.js';
export * from './rules.js';
export * from './screen.js';
