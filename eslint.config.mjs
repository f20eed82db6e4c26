// @ts-check
// Lint: typescript-eslint's recommended rules.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'dist-bench/', 'node_modules/', 'coverage/', 'data/', '.test-build/', '.test-tmp/', '.node24/', '.bench/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_name` marks a parameter an interface makes us accept; a rest sibling drops a property.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // A callback that reads a timer set after it (clearTimeout before setTimeout) is not a constant.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Tests read JSON answers whose shape is the thing under test.
    files: ['test/**/*.ts', 'src/**/*.test.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
