import { index, type RouteConfig, route } from '@react-router/dev/routes';

export default [index('routes/home.tsx'), route('theme', 'routes/theme.tsx'), route('suite/*', 'routes/suite.ts')] satisfies RouteConfig;
