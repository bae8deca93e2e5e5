/**
 * Build of the operator / regulator console (docs/adr/0018-console-stack.md): Preact + ECharts, bundled by Vite into
 * dist/console, which the Nest app serves at / (src/realtime/console.controller.ts). Unit tests: Vitest (`npm test`).
 */
import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: __dirname,
  base: '/console/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: resolve(__dirname, '..', 'dist', 'console'),
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
    sourcemap: false,
    reportCompressedSize: false,
  },
  test: {
    root: __dirname,
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
