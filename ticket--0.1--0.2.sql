/* ticket--0.1--0.2.sql: from the released 0.1 to 0.2 (hardening) */

\echo Use "ALTER EXTENSION ticket UPDATE TO '0.2'" to load this file. \quit

/*
 * How this project versions its SQL (the way pg_cron does):
 *
 * - ticket--0.1.sql is released and never edited again.  A new install of
 *   0.2 runs it and then this file, so a new install and an upgraded one are
 *   the same by construction; test/t/010_upgrade.pl upgrades one with a sale
 *   in it and checks that nothing was lost.
 * - A change to a function is CREATE OR REPLACE FUNCTION with the same
 *   signature: grants and comments stay.  That is the one place OR REPLACE
 *   is allowed, for a function the earlier scripts created (the extension
 *   already owns it); test/lint checks both.
 * - The same conventions as ticket--0.1.sql: relations and the extension's
 *   functions schema-qualified, SECURITY DEFINER with
 *   search_path = pg_catalog, pg_temp, no SQL built from strings.
 */
