-- The storefront's concert list.
SELECT * FROM ticket.browse_concerts();
