-- A buyer's section list, counts from shared memory.
SELECT * FROM ticket.browse_sections(1);
