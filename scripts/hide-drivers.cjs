// Preloaded with `node --require` to run dbrouter as if the database drivers were not installed:
// resolving `pg` or `mysql2` (or a subpath) fails as Node fails for a missing package. Which ones:
// DBROUTER_HIDE_DRIVERS=pg,mysql2 (the default hides both).
'use strict';
const Module = require('node:module');

const hidden = (process.env.DBROUTER_HIDE_DRIVERS || 'pg,mysql2').split(',');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (hidden.includes(String(request).split('/')[0])) {
    const e = new Error(`Cannot find module '${request}'`);
    e.code = 'MODULE_NOT_FOUND';
    throw e;
  }
  return resolve.call(this, request, ...rest);
};
