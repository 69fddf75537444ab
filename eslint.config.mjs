import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier/flat';

// Dependencies point inward: transports -> service -> adapters -> core. The core is pure maths and
// types: no I/O, no native modules, no environment.
const nativeAndIo = [
  'sharp',
  'onnxruntime-node',
  'onnxruntime-web',
  '@aws-sdk/*',
  '@aws-lambda-powertools/*',
  'fs',
  'fs/*',
  'node:*',
  'http',
  'https',
  'child_process',
  'aws-lambda',
];

// What the function runs (lambda/src) never reaches into the laptop's transports (local/) or the
// model-preparation tooling (tools/): the Lambda bundle holds no protobuf code, nor the peers the
// bench compares against (transformers.js).
const functionOnly = {
  group: ['**/local/**', '**/tools/**', 'protobufjs', '@huggingface/*'],
  message: 'lambda/src holds only what the function runs: no local/, tools/, protobuf or bench-only code.',
};

export default defineConfig(
  globalIgnores([
    'dist/',
    'cdk.out/',
    'coverage/',
    '.cache/',
    'test-artifacts/',
    '**/*.js',
    '**/*.mjs',
    // The page's modules are linted (the web block below); other .js files are config and shims.
    '!web/**/*.js',
    // Generated from openapi.json by `npm run web:types` (a drift test keeps it current).
    'web/api-types.d.ts',
    // Local scratch files, never committed.
    '.scratch/',
  ]),
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  { languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } } },
  {
    rules: {
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      // `const { dropped: _, ...kept } = x` is how we omit fields.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true, argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['lambda/src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            functionOnly,
            {
              group: nativeAndIo,
              message: 'The core is pure: no I/O or native modules. Put this in an adapter.',
            },
            {
              group: ['**/adapters/**', '**/service/**', '**/transports/**'],
              message: 'The core must not depend on outer layers.',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'The core reads no environment; take it as a parameter.' },
      ],
    },
  },
  {
    files: ['lambda/src/adapters/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            functionOnly,
            {
              group: ['**/service/**', '**/transports/**'],
              message: 'Adapters must not depend on the service or transports.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['lambda/src/service/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            functionOnly,
            { group: ['**/transports/**'], message: 'The service must not depend on transports.' },
            {
              group: ['sharp', 'onnxruntime-node'],
              message: 'Only the adapter files import native modules.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['lambda/src/transports/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            functionOnly,
            {
              group: ['sharp', 'onnxruntime-node', '**/adapters/sharp-*', '**/adapters/onnx-*'],
              message: 'Transports call the service facade only.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['local/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'sharp',
                'onnxruntime-node',
                '**/adapters/sharp-*',
                '**/adapters/onnx-*',
                '@huggingface/*',
              ],
              message:
                'The local transports call the service facade only (transformers.js is the bench’s peer).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['tools/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/local/**', '**/transports/**', '**/service/**'],
              message: 'Model tooling builds on the core and adapters only.',
            },
          ],
        },
      ],
    },
  },
  {
    // Model evaluation compares answers exactly as the service gives them, so it builds the service
    // (as local/cli.ts does); still no transport.
    files: ['tools/model-eval/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/local/**', '**/transports/**'],
              message: 'Model evaluation runs the service, never a transport.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['bin/**/*.ts', 'lib/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/lambda/src/**', 'sharp', 'onnxruntime-node'],
              message: 'The CDK app stands apart from the runtime code.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // The page (web/): browser ES modules typed with JSDoc. The type-aware rules above apply to them
    // through the project service, which picks web/tsconfig.json (lib DOM, checkJs) for these files.
    files: ['web/**/*.js'],
    languageOptions: { sourceType: 'module', ecmaVersion: 2022 },
    rules: {
      // tsc (checkJs, lib DOM) already rejects undeclared names, and knows the browser's globals,
      // which no-undef would need listed (typescript-eslint's advice for type-checked code).
      'no-undef': 'off',
    },
  },
  prettier,
);
