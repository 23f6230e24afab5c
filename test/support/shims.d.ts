// Koa 2, installed beside Koa 3 under another name to run the Koa adapter on both: same API as @types/koa.
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
