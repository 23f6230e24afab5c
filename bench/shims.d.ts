// Packages the bench uses that ship no type declarations (and whose @types are not installed).
declare module 'express-session';
