// For a service folder's own tests (`node --import <this file> --test`): TypeScript through tsx,
// and '@squadron/*' resolved from this installation, wherever the folder is, as `squadron` does.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./resolve-hooks.mjs', import.meta.url);
