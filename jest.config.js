// `npm test` runs `unit` and `models` (the real pretrained models in models/embedded on the photos
// in test/fixtures): offline, nothing outside the clone. Their own scripts, all run by .ci/run:
// `slow` (the ResNet-50 / YOLOv4 stand-ins, quantisation), `system` (needs Debian's heif-enc),
// `infra` (synthesizes the CDK app), `image` (rehearses the image build), `browser` (Debian chromium).
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
    { ...base, displayName: 'image', testMatch: ['<rootDir>/test/image/**/*.test.ts'] },
    { ...base, displayName: 'system', testMatch: ['<rootDir>/test/system/**/*.test.ts'] },
    { ...base, displayName: 'slow', testMatch: ['<rootDir>/test/slow/**/*.test.ts'] },
  ],
};
