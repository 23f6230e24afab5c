import type { Config } from '@react-router/dev/config';

export default {
  ssr: true,
  future: { v8_middleware: true }, // route middleware, where sessionkit's session is loaded and committed
} satisfies Config;
