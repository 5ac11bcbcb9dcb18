import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261124083548 } from './Migration20261124083548';
import { Migration20261130143409 } from './Migration20261130143409';
import { Migration20261130150639 } from './Migration20261130150639';
import { Migration20261130152844 } from './Migration20261130152844';
import { Migration20261130172500 } from './Migration20261130172500';
import { Migration20261130174000 } from './Migration20261130174000';
import { Migration20261130200000 } from './Migration20261130200000';
import { Migration20261130203000 } from './Migration20261130203000';
import { Migration20261201045737 } from './Migration20261201045737';

/** Migrations for postgresql, oldest first. `npm run migration:create -- postgresql` writes a new one: list it here. */
export const POSTGRES_MIGRATIONS: MigrationObject[] = [{ name: 'Migration20261124083548', class: Migration20261124083548 }, { name: 'Migration20261130143409', class: Migration20261130143409 }, { name: 'Migration20261130150639', class: Migration20261130150639 }, { name: 'Migration20261130152844', class: Migration20261130152844 }, { name: 'Migration20261130172500', class: Migration20261130172500 }, { name: 'Migration20261130174000', class: Migration20261130174000 }, { name: 'Migration20261130200000', class: Migration20261130200000 }, { name: 'Migration20261130203000', class: Migration20261130203000 }, { name: 'Migration20261201045737', class: Migration20261201045737 }];
