import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261124083542 } from './Migration20261124083542';
import { Migration20261130143358 } from './Migration20261130143358';
import { Migration20261130150658 } from './Migration20261130150658';
import { Migration20261130152844 } from './Migration20261130152844';
import { Migration20261130172500 } from './Migration20261130172500';
import { Migration20261130174000 } from './Migration20261130174000';
import { Migration20261130200000 } from './Migration20261130200000';
import { Migration20261130203000 } from './Migration20261130203000';
import { Migration20261201045726 } from './Migration20261201045726';

/** Migrations for sqlite, oldest first. `npm run migration:create -- sqlite` writes a new one: list it here. */
export const SQLITE_MIGRATIONS: MigrationObject[] = [{ name: 'Migration20261124083542', class: Migration20261124083542 }, { name: 'Migration20261130143358', class: Migration20261130143358 }, { name: 'Migration20261130150658', class: Migration20261130150658 }, { name: 'Migration20261130152844', class: Migration20261130152844 }, { name: 'Migration20261130172500', class: Migration20261130172500 }, { name: 'Migration20261130174000', class: Migration20261130174000 }, { name: 'Migration20261130200000', class: Migration20261130200000 }, { name: 'Migration20261130203000', class: Migration20261130203000 }, { name: 'Migration20261201045726', class: Migration20261201045726 }];
