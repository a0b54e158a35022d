-- A buyer's seat page: the 20,000 seats of the Lower Bowl, labelled and priced.
SELECT * FROM ticket.browse_seats(1, 1);
