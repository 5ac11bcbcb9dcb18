import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261124080142 } from './Migration20261124080142';

/** Migrations for sqlite, oldest first. `npm run migration:create -- sqlite` writes a new one: list it here. */
export const SQLITE_MIGRATIONS: MigrationObject[] = [{ name: 'Migration20261124080142', class: Migration20261124080142 }];
