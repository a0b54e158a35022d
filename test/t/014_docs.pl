# Docs: the reference is checked against the catalog of a fresh install.
# Every function, procedure and view of the extension whose name does not
# start with _ must have
#   - a row in docs/reference.md: in a table headed "| function |", a first
#     cell `name(arg type, ...)` (`CALL name(...)` for a procedure) naming the
#     catalog's input arguments in order; in the table headed "| view |", a
#     first cell `ticket.name`;
#   - a line in README.md's short table (section "Reference"): a first cell
#     [`ticket.name(arg, ... [, optional, ...])`](docs/reference.md#section)
#     (`CALL ticket.name(...)`, or `ticket.name` for a view) with the same
#     argument names, the ones with defaults in brackets, linking to the
#     section of docs/reference.md that holds its row, and a second cell
#     naming exactly the ticket_* roles that may call (or read) it;
#   - a COMMENT ON.
# Nothing may be documented there that the catalog does not have, and no
# object twice.  Every relative link in README.md and docs/*.md must lead to
# a file that exists and, with #anchor, to a heading of it.  Each check is
# first shown to fail: objects planted, dropped and changed in a transaction
# that is rolled back, and docs changed in memory.
use strict;
use warnings;
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# The tests run in a scratch copy of the tree (test/run copies README.md and
# docs/ into it).
my $root = dirname(__FILE__) . '/../..';

my @roles = qw(ticket_adapter ticket_admin ticket_customer ticket_monitor);

# ---------------------------------------------------------------- markdown

# The lines of a markdown text outside fenced code blocks, as [number, text].
sub prose_lines
{
	my ($text) = @_;
	my ($fence, $n, @out) = (0, 0);
	foreach my $line (split /\n/, $text)
	{
		$n++;
		if ($line =~ /^\s*```/) { $fence = !$fence; next; }
		push @out, [ $n, $line ] unless $fence;
	}
	return @out;
}

# GitHub's anchor of a heading: lower case, punctuation dropped, spaces to -.
sub slug
{
	my ($h) = @_;
	$h =~ s/\[([^\]]*)\]\([^)]*\)/$1/g;
	$h = lc $h;
	$h =~ s/[^a-z0-9 _-]//g;
	$h =~ s/ /-/g;
	return $h;
}

# The anchors of a markdown text (a repeated heading gets -1, -2, ...).
sub anchors
{
	my ($text) = @_;
	my %seen;
	foreach my $l (prose_lines($text))
	{
		next unless $l->[1] =~ /^#{1,6}\s+(.*?)\s*$/;
		my $s = slug($1);
		my $n = $seen{$s}++;
		$seen{"$s-$n"}++ if $n;
	}
	return \%seen;
}

# Broken relative links of one file: a missing file, or an anchor that is no
# heading of the file it names.  $files: path from the root => text, for the
# files whose anchors are known.
sub broken_links
{
	my ($file, $text, $files) = @_;
	my @bad;
	my $dir = dirname($file);
	foreach my $l (prose_lines($text))
	{
		(my $line = $l->[1]) =~ s/`[^`]*`//g;    # a link's text may be code
		while ($line =~ /\]\(([^)\s]+)\)/g)
		{
			my $target = $1;
			next if $target =~ /^[a-z][a-z0-9+.-]*:/i;    # http:, mailto:
			my ($path, $anchor) = $target =~ /^([^#]*)(?:#(.*))?$/;
			my @parts;
			foreach my $p (split m{/}, $path eq '' ? $file : ($dir eq '.' ? $path : "$dir/$path"))
			{
				next if $p eq '.' || $p eq '';
				if ($p eq '..') { pop @parts; } else { push @parts, $p; }
			}
			my $rel = join '/', @parts;
			my $where = "$file:$l->[0]: ($target)";
			my $body = $rel eq $file ? $text : $files->{$rel};
			if (!defined $body)
			{
				if (-e "$root/$rel")
				{
					$body = slurp_file("$root/$rel") if defined $anchor && $rel =~ /\.md$/;
				}
				elsif (!-e "$root/$parts[0]")
				{
					# Not in the scratch copy (test/run copies what the docs link to).
					note("not checked: $where, $parts[0] is not copied");
					next;
				}
				else
				{
					push @bad, "$where: no file $rel";
					next;
				}
			}
			push @bad, "$where: no heading #$anchor in $rel"
			  if defined $anchor && defined $body && !anchors($body)->{$anchor};
		}
	}
	return @bad;
}

# Split an argument list at the commas that are not in parentheses or quotes.
sub split_args
{
	my ($s) = @_;
	my @out;
	my ($cur, $depth, $quote) = ('', 0, 0);
	foreach my $c (split //, $s)
	{
		if ($quote) { $quote = 0 if $c eq "'"; }
		elsif ($c eq "'") { $quote = 1; }
		elsif ($c eq '(' || $c eq '[') { $depth++; }
		elsif ($c eq ')' || $c eq ']') { $depth--; }
		elsif ($c eq ',' && $depth == 0) { push @out, $cur; $cur = ''; next; }
		$cur .= $c;
	}
	push @out, $cur if $cur =~ /\S/;
	return @out;
}

# The rows of docs/reference.md: name => [ {kind, args, sections} ], and the
# rows of its function and view tables that follow no convention.
sub parse_reference
{
	my ($text) = @_;
	my (%entries, @malformed, @heads, $table);
	foreach my $l (prose_lines($text))
	{
		my $line = $l->[1];
		if ($line =~ /^(#{1,6})\s+(.*?)\s*$/)
		{
			splice @heads, length($1) - 1;
			$heads[ length($1) - 1 ] = slug($2);
			next;
		}
		if ($line !~ /^\|/) { $table = undef; next; }
		if (!defined $table)
		{
			$table = $line =~ /^\|\s*(function|view)\s*\|/ ? $1 : '';
			next;
		}
		next if $table eq '' || $line =~ /^\|[\s|:-]*$/;
		my ($kind, $name, $args);
		if ($table eq 'function' && $line =~ /^\|\s*`(CALL )?(\w+)\(([^`]*)\)`/)
		{
			($kind, $name) = ($1 ? 'procedure' : 'function', $2);
			$args = join ',', map { /^\s*(\w+)/ ? $1 : '?' } split_args($3);
		}
		elsif ($table eq 'view' && $line =~ /^\|\s*`ticket\.(\w+)`\s*\|/)
		{
			($kind, $name, $args) = ('view', $1, '');
		}
		else
		{
			push @malformed, "docs/reference.md:$l->[0]: $line";
			next;
		}
		push @{ $entries{$name} },
		  { kind => $kind, args => $args, sections => [ grep { defined } @heads ] };
	}
	return (\%entries, \@malformed);
}

# The lines of README.md's short table: name => [ {kind, args, required,
# link, who} ], and the rows of the table that follow no convention.
sub parse_readme
{
	my ($text) = @_;
	my (%entries, @malformed, $in, $rows);
	foreach my $l (prose_lines($text))
	{
		my $line = $l->[1];
		if ($line =~ /^#{1,6}\s+(.*?)\s*$/) { $in = $1 eq 'Reference'; $rows = 0; next; }
		next unless $in && $line =~ /^\|/;
		next if $rows++ < 2;    # the header and its rule
		if ($line =~ /^\|\s*\[`(CALL )?ticket\.(\w+)(?:\(([^`]*)\))?`\]\(([^)\s]+)\)\s*\|([^|]*)\|\s*\S[^|]*\|\s*$/)
		{
			my ($call, $name, $args, $link, $who) = ($1, $2, $3, $4, $5);
			my $kind = $call ? 'procedure' : defined $args ? 'function' : 'view';
			$args //= '';
			my $required = index($args, '[') < 0 ? undef : substr($args, 0, index($args, '['));
			my @names = grep { /\S/ } map { s/[\[\]\s]//gr } split /,/, $args;
			my @req = defined $required ? (grep { /\S/ } map { s/[\[\]\s]//gr } split(/,/, $required)) : @names;
			push @{ $entries{$name} }, {
				kind => $kind,
				args => join(',', @names),
				required => scalar @req,
				link => $link,
				who => join(',', sort($who =~ /\b(ticket_\w+)/g)) };
		}
		else
		{
			push @malformed, "README.md:$l->[0]: $line";
		}
	}
	return (\%entries, \@malformed);
}

# ---------------------------------------------------------------- catalog

my $node = PostgreSQL::Test::Cluster->new('docs');
$node->init;
$node->append_conf('postgresql.conf', q{
shared_preload_libraries = 'ticket, pg_cron'
cron.database_name = 'postgres'
ticket.database = 'postgres'
ticket.worker = off
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION ticket');

# The extension's functions, procedures and views not named _*, after
# $prelude in a transaction that is rolled back: name => [ {kind, args
# (input arguments), required, comment, who} ].
sub catalog
{
	my ($prelude) = @_;
	my $roles = join ',', map { "'$_'" } @roles;
	my $out = $node->safe_psql('postgres', qq{
BEGIN;
$prelude
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, p.proname,
	coalesce((SELECT string_agg(coalesce(a.n, '\$' || a.i), ',' ORDER BY a.i)
		FROM unnest(p.proargnames, p.proargmodes) WITH ORDINALITY AS a(n, m, i)
		WHERE coalesce(a.m, 'i') IN ('i', 'b', 'v')), ''),
	p.pronargs - p.pronargdefaults,
	obj_description(p.oid, 'pg_proc') IS NOT NULL,
	coalesce((SELECT string_agg(r, ',' ORDER BY r) FROM unnest(ARRAY[$roles]) AS r
		WHERE has_function_privilege(r, p.oid, 'EXECUTE')), '')
FROM pg_catalog.pg_proc AS p
JOIN pg_catalog.pg_depend AS d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
	AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid AND e.extname = 'ticket'
WHERE p.proname !~ '^_'
UNION ALL
SELECT 'view', c.relname, '', 0,
	obj_description(c.oid, 'pg_class') IS NOT NULL,
	coalesce((SELECT string_agg(r, ',' ORDER BY r) FROM unnest(ARRAY[$roles]) AS r
		WHERE has_table_privilege(r, c.oid, 'SELECT')), '')
FROM pg_catalog.pg_class AS c
JOIN pg_catalog.pg_depend AS d ON d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid
	AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
JOIN pg_catalog.pg_extension AS e ON e.oid = d.refobjid AND e.extname = 'ticket'
WHERE c.relkind IN ('v', 'm') AND c.relname !~ '^_'
ORDER BY 2, 3;
ROLLBACK;
});
	my %cat;
	foreach (split /\n/, $out)
	{
		my ($kind, $name, $args, $required, $comment, $who) = split /\|/, $_, -1;
		push @{ $cat{$name} },
		  { kind => $kind, args => $args, required => $required, comment => $comment eq 't', who => $who };
	}
	return \%cat;
}

# ---------------------------------------------------------------- checks

sub sig { my ($e) = @_; return $e->{kind} eq 'view' ? 'view' : "$e->{kind}($e->{args})"; }
sub sigs { my ($list) = @_; return join ' | ', sort map { sig($_) } @$list; }

# What is wrong, by check: each a list of lines that start with the name.
sub problems
{
	my ($cat, $ref, $readme) = @_;
	my %p = map { $_ => [] } qw(ref_missing ref_stale ref_twice ref_args
	  readme_missing readme_stale readme_twice readme_args readme_who readme_link no_comment);
	foreach my $name (sort keys %$cat)
	{
		foreach my $c (@{ $cat->{$name} })
		{
			push @{ $p{no_comment} }, "$name: " . sig($c) . " has no COMMENT ON" unless $c->{comment};
		}
	}
	foreach my $doc ([ 'ref', $ref, 'docs/reference.md' ], [ 'readme', $readme, 'README.md' ])
	{
		my ($k, $d, $file) = @$doc;
		foreach my $name (sort keys %$cat)
		{
			if (!$d->{$name})
			{
				push @{ $p{"${k}_missing"} }, "$name: " . sigs($cat->{$name}) . " is not in $file";
			}
			elsif (sigs($d->{$name}) ne sigs($cat->{$name}))
			{
				push @{ $p{"${k}_args"} },
				  "$name: $file has " . sigs($d->{$name}) . ", the catalog " . sigs($cat->{$name});
			}
		}
		foreach my $name (sort keys %$d)
		{
			push @{ $p{"${k}_stale"} }, "$name: in $file, not in the catalog" unless $cat->{$name};
			my %n;
			push @{ $p{"${k}_twice"} }, "$name: " . sig($_) . " is in $file twice"
			  for grep { $n{ sig($_) }++ == 1 } @{ $d->{$name} };
		}
	}
	foreach my $name (sort keys %$readme)
	{
		foreach my $e (@{ $readme->{$name} })
		{
			my ($c) = grep { sig($_) eq sig($e) } @{ $cat->{$name} || [] };
			next unless $c;
			push @{ $p{readme_args} },
			  "$name: README.md brackets all but $e->{required} arguments, $c->{required} have no default"
			  if $e->{required} != $c->{required};
			push @{ $p{readme_who} }, "$name: README.md says who is '$e->{who}', the catalog '$c->{who}'"
			  if $e->{who} ne $c->{who};
			my ($file, $anchor) = $e->{link} =~ /^([^#]*)(?:#(.*))?$/;
			my @sections = map { @{ $_->{sections} } } grep { sig($_) eq sig($e) } @{ $ref->{$name} || [] };
			push @{ $p{readme_link} },
			  "$name: README.md links to $e->{link}, its row is under #" . join(', #', @sections)
			  unless $file eq 'docs/reference.md' && defined $anchor && grep { $_ eq $anchor } @sections;
		}
	}
	return \%p;
}

my %what = (
	ref_missing => 'every function, procedure and view has a row in docs/reference.md',
	ref_stale => 'docs/reference.md documents nothing the catalog does not have',
	ref_twice => 'docs/reference.md has one row per object',
	ref_args => 'docs/reference.md names the arguments the catalog has',
	readme_missing => "every function, procedure and view has a line in README.md's table",
	readme_stale => "README.md's table lists nothing the catalog does not have",
	readme_twice => "README.md's table has one line per object",
	readme_args => "README.md's table names the catalog's arguments, those with defaults in brackets",
	readme_who => "README.md's table names the roles that may call each",
	readme_link => "README.md's table links each to the section of docs/reference.md with its row",
	no_comment => 'every function, procedure and view has a COMMENT ON');

sub report
{
	my ($p) = @_;
	is(join("\n", @{ $p->{$_} }), '', $what{$_}) foreach sort keys %what;
}

# ---------------------------------------------------------------- the docs

my %files = ('README.md' => slurp_file("$root/README.md"));
opendir(my $dh, "$root/docs") or die "no docs/ in $root: $!";
$files{"docs/$_"} = slurp_file("$root/docs/$_") foreach sort grep { /\.md$/ } readdir $dh;
closedir $dh;
ok($files{'docs/reference.md'}, 'docs/reference.md is there');

my ($ref, $ref_bad) = parse_reference($files{'docs/reference.md'});
my ($readme, $readme_bad) = parse_readme($files{'README.md'});
my $cat = catalog('');
cmp_ok(scalar keys %$cat, '>=', 40, 'the catalog lists the functions, procedures and views (' . scalar(keys %$cat) . ')');

# ---------------------------------------------------------------- self-test

# Each check fails when it should, and names what is wrong.
{
	my $broken = catalog(q{
CREATE FUNCTION ticket.zz_probe(probe_arg integer) RETURNS integer LANGUAGE sql AS 'SELECT 1';
ALTER EXTENSION ticket ADD FUNCTION ticket.zz_probe(integer);
CREATE VIEW ticket.zz_probe_view AS SELECT 1 AS x;
ALTER EXTENSION ticket ADD VIEW ticket.zz_probe_view;
ALTER EXTENSION ticket DROP FUNCTION ticket.release(bigint, text);
ALTER EXTENSION ticket DROP FUNCTION ticket.unblock_user(text);
DROP FUNCTION ticket.unblock_user(text);
CREATE FUNCTION ticket.unblock_user(who text) RETURNS boolean LANGUAGE sql AS 'SELECT true';
ALTER EXTENSION ticket ADD FUNCTION ticket.unblock_user(text);
});
	ok($broken->{zz_probe} && $broken->{zz_probe_view} && !$broken->{release},
		'self-test: the catalog query sees objects added to and dropped from the extension');
	my $p = problems($broken, $ref, $readme);
	my %expect = (
		ref_missing => [qw(zz_probe zz_probe_view)],
		readme_missing => [qw(zz_probe zz_probe_view)],
		no_comment => [qw(zz_probe zz_probe_view unblock_user)],
		ref_stale => ['release'],
		readme_stale => ['release'],
		ref_args => ['unblock_user'],
		readme_args => ['unblock_user']);
	foreach my $check (sort keys %expect)
	{
		my $got = join "\n", @{ $p->{$check} };
		like($got, qr/^\Q$_\E:/m, "self-test: $check reports $_") foreach @{ $expect{$check} };
	}

	# The docs changed in memory: a second row, a wrong role, fewer
	# defaults, a link to the wrong section.
	my %ref2 = %$ref;
	$ref2{hold} = [ @{ $ref->{hold} }, @{ $ref->{hold} } ];
	my %readme2 = %$readme;
	$readme2{verify} = [ map { { %$_, who => 'ticket_customer' } } @{ $readme->{verify} } ];
	$readme2{checkout} = [ map { { %$_, link => 'docs/reference.md#events' } } @{ $readme->{checkout} } ];
	$readme2{hold_best} = [ map { { %$_, required => $_->{required} + 1 } } @{ $readme->{hold_best} } ];
	$readme2{release} = [ @{ $readme->{release} }, @{ $readme->{release} } ];
	$p = problems($cat, \%ref2, \%readme2);
	like(join("\n", @{ $p->{ref_twice} }), qr/^hold:/m, 'self-test: ref_twice reports hold');
	like(join("\n", @{ $p->{readme_twice} }), qr/^release:/m, 'self-test: readme_twice reports release');
	like(join("\n", @{ $p->{readme_who} }), qr/^verify:/m, 'self-test: readme_who reports verify');
	like(join("\n", @{ $p->{readme_link} }), qr/^checkout:/m, 'self-test: readme_link reports checkout');
	like(join("\n", @{ $p->{readme_args} }), qr/^hold_best:/m, 'self-test: readme_args reports brackets of hold_best');

	# The parsers: a row out of convention; a link to nowhere.
	my (undef, $bad) = parse_reference("## X\n\n| function | returns | who |\n|---|---|---|\n| hold(a int) | int | admin |\n");
	is(scalar @$bad, 1, 'self-test: a reference row without `name(...)` is reported');
	(undef, $bad) = parse_readme("## Reference\n\n| call | who | what |\n|---|---|---|\n| `ticket.hold(a)` | ticket_customer | holds |\n");
	is(scalar @$bad, 1, 'self-test: a README line without its link is reported');
	my @links = broken_links('docs/x.md', "[a](reference.md#no-such-heading) [b](no-such-file.md) [c](#here)\n\n## Here\n",
		\%files);
	is(scalar @links, 2, 'self-test: a missing heading and a missing file are reported') or diag(join "\n", @links);
}

# ---------------------------------------------------------------- the checks

note('docs/reference.md documents ' . scalar(keys %$ref) . ', README.md ' . scalar(keys %$readme));
is(join("\n", @$ref_bad), '', 'every row of the function and view tables of docs/reference.md follows the convention');
is(join("\n", @$readme_bad), '', "every line of README.md's table follows the convention");
report(problems($cat, $ref, $readme));
is(join("\n", map { broken_links($_, $files{$_}, \%files) } sort keys %files), '',
	'every relative link of README.md and docs/*.md leads to a file and heading that exist');

$node->stop;
done_testing();
