-- The same counts by a seat scan per call: the admin view.
SELECT * FROM ticket.sections WHERE concert_id = 1;
