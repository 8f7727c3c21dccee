// Tests build their configuration explicitly (test/helpers/config.ts); nothing here.
export {};
