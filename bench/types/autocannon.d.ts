// autocannon ships no types; bench/sections/concurrency.ts types the parts it uses.
declare module 'autocannon';
