// Four suites: `unit` is the fast default (npm test); `models` runs the real pretrained models from
// ../shared; `browser` drives Debian chromium; `infra` synthesizes the CDK app.
const base = {
  testEnvironment: '<rootDir>/test/support/jest-env-typedarrays.js',
  transform: { '^.+\\.tsx?$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  setupFiles: ['<rootDir>/test/support/quiet-telemetry.js'],
};
module.exports = {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    { ...base, displayName: 'models', testMatch: ['<rootDir>/test/models/**/*.test.ts'] },
    { ...base, displayName: 'browser', testMatch: ['<rootDir>/test/browser/**/*.test.ts'] },
    { ...base, displayName: 'infra', testMatch: ['<rootDir>/test/infra/**/*.test.ts'] },
  ],
};
