import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The gateway serves the built files under /console/ and answers /console/session, /console/login and
// /api/v1/... on the same origin; `npm run dev` proxies those to a running gateway (ZF_GATEWAY).
const gateway = process.env.ZF_GATEWAY || 'http://127.0.0.1:8000'

export default defineConfig({
  base: '/console/',
  plugins: [vue()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2500 },
  server: {
    proxy: {
      '/api': gateway,
      '/console/session': gateway,
      '/console/login': gateway,
      '/console/logout': gateway,
      '/console/callback': gateway,
    },
  },
})
