// Packages the bench uses that ship no type declarations (and whose @types are not installed).
declare module 'autocannon';
declare module 'express-session';
