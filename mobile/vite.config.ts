import { fileURLToPath } from 'node:url';
import uni from '@dcloudio/vite-plugin-uni';
import { defineConfig } from 'vite';

// The wire protocol lives in the server workspace; point at the file itself so both uni targets
// (H5 and mp-weixin) bundle it the same way, whatever the workspace symlinks look like.
const protocolPath = fileURLToPath(new URL('../server/src/protocol.ts', import.meta.url));

export default defineConfig({
  plugins: [uni()],
  resolve: {
    alias: { '@chatroom/server/protocol': protocolPath },
  },
});
