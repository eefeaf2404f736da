// The IXP deployment: who the members are (IX-F member export), IP → AS, and which member a host sits behind.
export * from './ixf.js';
export * from './routes.js';
export * from './attribute.js';
