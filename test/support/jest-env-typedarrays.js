// onnxruntime-node checks `data instanceof Float32Array` against the realm it was loaded in; Jest's
// sandbox has its own typed-array constructors, so share the host's (toolchain-facts T3).
const { TestEnvironment } = require('jest-environment-node');
module.exports = class extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const k of [
      'ArrayBuffer',
      'SharedArrayBuffer',
      'Uint8Array',
      'Uint8ClampedArray',
      'Int8Array',
      'Uint16Array',
      'Int16Array',
      'Uint32Array',
      'Int32Array',
      'Float32Array',
      'Float64Array',
      'BigInt64Array',
      'BigUint64Array',
    ])
      this.global[k] = globalThis[k];
  }
};
