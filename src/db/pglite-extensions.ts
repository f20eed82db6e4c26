import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';

/**
 * The PostgreSQL extensions the migrations create (`pg_trgm` for search), which PGlite must load
 * wherever it opens the embedded database: the server, and a backup's dump or restore.
 */
export const PGLITE_EXTENSIONS = { pg_trgm };
