/*
 * src/privileges.sql: every grant, last, so that it covers every object.
 * Nothing is granted to PUBLIC; each role gets EXECUTE on what it calls and
 * SELECT on what it reads: ticket_admin (the box office), ticket_customer
 * (buyers, through the application), ticket_adapter (the payment adapter),
 * ticket_monitor (dashboards and Prometheus).
 */

REVOKE ALL ON ALL TABLES IN SCHEMA ticket FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA ticket FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ticket FROM PUBLIC;
REVOKE ALL ON ALL PROCEDURES IN SCHEMA ticket FROM PUBLIC;
GRANT SELECT ON ticket.concert, ticket.section, ticket.seat, ticket.hold, ticket.blocked_user,
	ticket.concerts, ticket.sections, ticket.queues, ticket.orders, ticket.payment, ticket.saga,
	ticket.saga_step, ticket.event, ticket.event_head, ticket.dashboard, ticket.cancellation TO ticket_admin;
GRANT SELECT ON ticket.dashboard TO ticket_monitor;

/* The views call it as whoever reads them (it only counts, as the owner). */
GRANT EXECUTE ON FUNCTION ticket._waiting(ticket.queue) TO ticket_admin, ticket_monitor;
GRANT EXECUTE ON FUNCTION ticket._seat_is_free(ticket.seat_state, timestamptz, timestamptz) TO ticket_admin;
GRANT EXECUTE ON FUNCTION ticket.metrics(), ticket.counters(), ticket.preloaded() TO ticket_monitor;
GRANT EXECUTE ON FUNCTION
	ticket.create_concert(text, timestamptz, timestamptz, text, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean, timestamptz, boolean, interval, numeric, numeric, boolean),
	ticket.update_concert(bigint, text, text, timestamptz, timestamptz, timestamptz, interval, integer, integer, interval, integer, boolean, integer, interval, integer, boolean, timestamptz, boolean, interval, numeric, numeric, boolean),
	ticket.open_sale(bigint),
	ticket.close_sale(bigint),
	ticket.cancel_concert(bigint),
	ticket.add_section(bigint, text, text, numeric, integer, integer),
	ticket.add_standing(bigint, text, text, numeric, integer),
	ticket.seat_map(bigint, integer),
	ticket.counters(),
	ticket.metrics(),
	ticket.verify(bigint),
	ticket.rotate_pass_key(interval),
	ticket.check_pass(text, bigint, text),
	ticket.block_user(text, text),
	ticket.unblock_user(text),
	ticket.admit(bigint),
	ticket.admit_scheduled(),
	ticket.schedule_admission(bigint),
	ticket.unschedule_admission(bigint),
	ticket.draw_order(bigint, bytea),
	ticket.queue_status(bigint, text),
	ticket.start_compensation(bigint, text),
	ticket.compensation_step(bigint),
	ticket.maintenance(text, integer),
	ticket.publish_events(integer),
	ticket.events_since(bigint, integer, bigint),
	ticket.order_status(bigint, text),
	ticket.update_section(bigint, integer, text, text, numeric),
	ticket.remove_section(bigint, integer),
	ticket.delete_concert(bigint),
	ticket.retry_dead(bigint),
	ticket.retry_dead_refunds(bigint),
	ticket.sales_by_section(bigint),
	ticket.sales_by_hour(bigint),
	ticket.user_history(text, integer)
TO ticket_admin;
GRANT EXECUTE ON PROCEDURE ticket.run_admission(integer), ticket.compensate(bigint, text) TO ticket_admin;
GRANT EXECUTE ON FUNCTION
	ticket.claim_payments(text, integer, interval),
	ticket.payment_succeeded(bigint, text),
	ticket.payment_failed(bigint, text, boolean),
	ticket.events_since(bigint, integer, bigint)
TO ticket_adapter;
GRANT EXECUTE ON FUNCTION
	ticket.hold(bigint, text, integer[], text, text, text),
	ticket.hold_best(bigint, text, integer, integer, boolean, text, text, text),
	ticket.release(bigint, text),
	ticket.check_pass(text, bigint, text),
	ticket.join_queue(bigint, text, text, text, text),
	ticket.queue_status(bigint, text),
	ticket.leave_queue(bigint, text),
	ticket.challenge(bigint, text),
	ticket.checkout(bigint, text, text),
	ticket.order_status(bigint, text),
	ticket.browse_concerts(),
	ticket.browse_sections(bigint),
	ticket.browse_seats(bigint, integer, boolean),
	ticket.my_holds(text, bigint, bigint, integer),
	ticket.my_orders(text, bigint, bigint, integer),
	ticket.my_events(text, bigint, integer),
	ticket.cancel_order(bigint, text, text, integer[])
TO ticket_customer;
/* The box office sees what buyers see, and a buyer's holds and orders (support). */
GRANT EXECUTE ON FUNCTION
	ticket.browse_concerts(),
	ticket.browse_sections(bigint),
	ticket.browse_seats(bigint, integer, boolean),
	ticket.my_holds(text, bigint, bigint, integer),
	ticket.my_orders(text, bigint, bigint, integer),
	ticket.my_events(text, bigint, integer)
TO ticket_admin;
GRANT EXECUTE ON FUNCTION ticket.preloaded() TO ticket_admin, ticket_customer, ticket_adapter;
REVOKE ALL ON FUNCTION ticket._try_lock_payments(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION ticket._setting_share(text, double precision) FROM PUBLIC;

REVOKE ALL ON FUNCTION ticket._payment_backlog(bigint), ticket._pressure_target(interval), ticket._lock_queue(bigint),
	ticket.pause_admission(bigint), ticket.resume_admission(bigint),
	ticket._buyer_seats(bigint, text, bigint), ticket._end_admission(bigint, text),
	ticket._time_out_order(bigint, text), ticket.report_payments(jsonb) FROM PUBLIC;

/* The dashboard calls it as whoever reads it (it only counts, as the owner). */
GRANT EXECUTE ON FUNCTION ticket._payment_backlog(bigint) TO ticket_admin, ticket_monitor;
GRANT EXECUTE ON FUNCTION ticket.pause_admission(bigint), ticket.resume_admission(bigint) TO ticket_admin;
GRANT EXECUTE ON FUNCTION ticket.report_payments(jsonb) TO ticket_adapter;
REVOKE ALL ON ticket._dashboard_rows FROM PUBLIC;
REVOKE ALL ON FUNCTION ticket._dashboard() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket._dashboard() TO ticket_admin, ticket_monitor;
GRANT SELECT ON ticket.dashboard TO ticket_admin, ticket_monitor;
REVOKE ALL ON FUNCTION ticket.health() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket.health() TO ticket_admin, ticket_monitor;
/* The router asks each partition which shard it is (create_concert, health). */
GRANT EXECUTE ON FUNCTION ticket.shard() TO ticket_admin, ticket_monitor;
REVOKE ALL ON FUNCTION ticket._in_transaction_block() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ticket._in_transaction_block() TO ticket_admin;
