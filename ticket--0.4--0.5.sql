/* ticket--0.4--0.5.sql: from 0.4 to 0.5 */

\echo Use "ALTER EXTENSION ticket UPDATE TO '0.5'" to load this file. \quit

/*
 * 0.5 is built from the SQL beside the C (the .sql files in src, one per
 * capability; the Makefile concatenates them into ticket--0.5.sql).  The
 * objects of 0.4 are those of 0.5: this script has nothing to change.
 * test/t/010_upgrade.pl checks that an install updated from 0.1 and a fresh
 * one have the same objects, definitions, grants and comments.
 */
