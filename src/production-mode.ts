/**
 * `npm start` runs in production mode unless NODE_ENV says otherwise. graphql-js reads NODE_ENV once, when it is
 * loaded, and outside production checks every failed `instanceof` for a duplicated module (about 5% of the CPU
 * of a large answer): this module is imported first by the entry point, before anything loads graphql. Nothing
 * of ours depends on NODE_ENV (errors are formatted in one place, whatever it says).
 */
process.env.NODE_ENV ??= 'production';
