#!/usr/bin/perl
#
# dirqkit driver for Perl Directory::Queue (protocol v1, see PROTOCOL.md).
#
# Usage: perl perl_dirq.pl   (Directory::Queue must be in @INC, e.g. PERL5LIB)
#
# Only core modules besides Directory::Queue: JSON::PP, MIME::Base64,
# Digest::SHA, Time::HiRes, POSIX. Queue types: Simple, Normal, Null, Set.
#
# Directory::Queue reports every failure by dying with a message, so the
# error kind is read from the message:
#   "unsupported method"                         -> unsupported
#   "invalid element"                            -> invalid_name
#   any message about the schema                 -> invalid_schema
#   "not locked"                                 -> not_locked
#   invalid/unexpected/missing option, duplicate
#   queue in a set                               -> invalid_option
#   "missing queue in set" (remove)              -> not_found
#   unexpected or missing data, bad table line,
#   missing data file, undecodable UTF-8         -> invalid_data
# and otherwise from the op and the strerror text of the errno in the
# message: lock + EEXIST -> locked, lock + ENOENT -> not_found, unlock and
# get + ENOENT -> not_locked, touch, add_path and remove + ENOENT ->
# not_found (remove of a missing .lck -> not_locked, effect unknown: the
# element was unlinked first); anything else -> io with effect unknown.
#
# Sets are iterated with Directory::Queue::Set's own first/next, also by
# set_first/set_next, so what add and remove do to the iteration is its own.
#
# Normal fields whose schema type carries the '*' flag are given to and
# read from Directory::Queue as scalar references (its API's convention);
# on the wire they are plain typed fields like the others.
#

use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use JSON::PP ();
use MIME::Base64 qw(decode_base64 encode_base64);
use POSIX qw(EEXIST ENOENT);
use Time::HiRes ();

my $JSON = JSON::PP->new->utf8->ascii->allow_nonref;
my $PROTOCOL = 1;
my %OPTIONS = (
    simple => [qw(umask rndhex granularity maxtemp maxlock)],
    normal => [qw(umask rndhex maxelts maxtemp maxlock nlink)],
    null   => [],
);
my %CLASS = (simple => "Simple", normal => "Normal", null => "Null");
my %ERRNO_TEXT = map { local $! = $_; ("$!" => $_) } (EEXIST, ENOENT);
my %ERRNO_KIND = (
    "lock/" . EEXIST() => "locked",      "lock/" . ENOENT() => "not_found",
    "unlock/" . ENOENT() => "not_locked", "get/" . ENOENT() => "not_locked",
    "touch/" . ENOENT() => "not_found",  "add_path/" . ENOENT() => "not_found",
    "remove/" . ENOENT() => "not_found",
);

my (%handle, $opened, $loaded, $stopping);

# a refusal made by the driver itself: die with a blessed {kind, message}
sub refuse ($$) {
    my ($kind, $message) = @_;
    die bless({ kind => $kind, message => $message, effect => "none" }, "Refusal");
}

sub failure ($$) {
    my ($op, $error) = @_;
    return {%$error} if ref($error) eq "Refusal";
    my $message = "$error";
    $message =~ s/\s+$//;
    my $kind;
    if    ($message =~ /^unsupported method/)  { $kind = "unsupported" }
    elsif ($message =~ /^invalid element/)     { $kind = "invalid_name" }
    elsif ($message =~ /schema/)               { $kind = "invalid_schema" }
    elsif ($message =~ /not locked$/)          { $kind = "not_locked" }
    elsif ($message =~ /^(invalid (maxlock|maxtemp|rndhex|umask|granularity|maxelts)|unexpected option|missing option|duplicate queue|not a Directory::Queue)/) {
        $kind = "invalid_option";
    }
    elsif ($message =~ /^missing queue in set/) { $kind = "not_found" }
    elsif ($message =~ /^(unexpected (data|hash line|character|\w+ data in)|missing mandatory|missing data file|undefined hash value|invalid hash scalar|cannot UTF-8 decode)/) {
        $kind = "invalid_data";
    }
    return { kind => $kind, message => $message, effect => "none" } if $kind;
    foreach my $text (keys(%ERRNO_TEXT)) {
        next unless index($message, $text) >= 0;
        $kind = $ERRNO_KIND{"$op/$ERRNO_TEXT{$text}"} or last;
        return { kind => "not_locked", message => $message, effect => "unknown" }
            if $op eq "remove" and $message =~ /\.lck\)/;
        return { kind => $kind, message => $message, effect => "none" };
    }
    return { kind => "io", message => $message, effect => "unknown" };
}

sub arg ($$) {
    my ($request, $name) = @_;
    refuse("internal", "bad request: missing argument $name") unless defined($request->{$name});
    return $request->{$name};
}

sub queue_of ($) {
    my ($request) = @_;
    my $key = arg($request, "queue");
    my $entry = $handle{$key} or refuse("internal", "bad request: unknown queue handle $key");
    return $entry;
}

# the queue's method for an op; an implementation without it answers unsupported (SPEC-2)
sub method_of ($$) {
    my ($entry, $name) = @_;
    refuse("unsupported", "Directory::Queue $entry->{type} queues have no $name") unless $entry->{queue}->can($name);
    return $name;
}

sub plain_queue ($) {
    my ($request) = @_;
    my $entry = queue_of($request);
    refuse("unsupported", "$request->{op} is not an operation of a set") if $entry->{type} eq "set";
    return $entry;
}

sub queue_set ($) {
    my ($request) = @_;
    my $entry = queue_of($request);
    refuse("unsupported", "$request->{op} is an operation of a set only") unless $entry->{type} eq "set";
    return $entry;
}

# a field flagged '*' is passed to and returned by Directory::Queue as a scalar reference
sub by_ref ($$) {
    my ($entry, $field) = @_;
    return ((($entry->{schema} || {})->{$field} || "") =~ /\*/) ? 1 : 0;
}

sub base_type ($$) {
    my ($entry, $field) = @_;
    my $type = ($entry->{schema} || {})->{$field} || "binary";
    $type =~ s/[?*]+$//;
    return $type;
}

# typed fields (PROTOCOL.md 2.2) <-> Perl values
sub decode_fields ($$) {
    my ($entry, $wire) = @_;
    refuse("internal", "bad request: data of a normal queue must be typed fields") unless ref($wire) eq "HASH";
    my %data;
    foreach my $name (keys(%$wire)) {
        my $field = $wire->{$name};
        my $type = ref($field) eq "HASH" ? ($field->{type} || "") : "";
        if    ($type eq "binary") { $data{$name} = decode_base64($field->{base64}) }
        elsif ($type eq "string" or $type eq "table") { $data{$name} = $field->{value} }
        else  { refuse("internal", "bad request: data.$name is not a typed field") }
        $data{$name} = \ "$data{$name}" if by_ref($entry, $name) and not ref($data{$name});
    }
    return \%data;
}

sub encode_fields ($$) {
    my ($entry, $data) = @_;
    my %wire;
    foreach my $name (keys(%$data)) {
        my $type = base_type($entry, $name);
        my $value = ref($data->{$name}) eq "SCALAR" ? ${ $data->{$name} } : $data->{$name};
        $wire{$name} = $type eq "binary"
            ? { type => "binary", base64 => encode_base64($value, "") }
            : { type => $type, value => $value };
    }
    return \%wire;
}

sub names ($) {
    my ($queue) = @_;
    my @names;
    for (my $name = $queue->first(); $name; $name = $queue->next()) {
        push(@names, $name);
    }
    return \@names;
}

# a (queue, element) couple of a set as [handle, name]; undef at the end
sub set_pair ($@) {
    my ($entry, $queue, $name) = @_;
    return $queue ? [ $entry->{members}{ $queue->id() }, $name ] : undef;
}

sub set_pairs ($) {
    my ($entry) = @_;
    my @pairs;
    for (my $pair = set_pair($entry, $entry->{queue}->first()); $pair; $pair = set_pair($entry, $entry->{queue}->next())) {
        push(@pairs, $pair);
    }
    return \@pairs;
}

# members: queue id -> handle, for every queue ever added to the set (set_remove keeps it)
sub make_set ($) {
    my ($keys) = @_;
    refuse("internal", "bad request: set members must be a list of handles") unless ref($keys) eq "ARRAY";
    my @members = map { plain_queue({ op => "open", queue => $_ }) } @$keys;
    my $set = Directory::Queue::Set->new(map { $_->{queue} } @members);
    my %members = map { ($members[$_]{queue}->id() => $keys->[$_]) } 0 .. $#members;
    return { type => "set", queue => $set, members => \%members };
}

sub new_handle ($) {
    my ($entry) = @_;
    my $key = "q" . ++$opened;
    $handle{$key} = $entry;
    return $key;
}

# history timestamps: wall clock in integer microseconds
sub now_us () {
    my ($seconds, $micro) = Time::HiRes::gettimeofday();
    return $seconds * 1_000_000 + $micro;
}

# A driver is reused across cases, and the data cases produce the same large payloads (1 and
# 16 MiB, the same seeds) in every run: the last two of 1 MiB or more are kept, not made again.
use constant LARGE_PAYLOAD => 1 << 20;
my @kept_payloads;  # [key, text], the newest first

sub payload ($$$) {
    my ($seed, $index, $size) = @_;
    my $key = "$size:$index:$seed";
    if ($size >= LARGE_PAYLOAD) {
        foreach my $kept (@kept_payloads) {
            return $kept->[1] if $kept->[0] eq $key;
        }
    }
    my $text = "";
    for (my $k = 0; length($text) < $size; $k++) {
        $text .= sha256_hex("$seed:$index:$k");
    }
    $text = substr($text, 0, $size);
    if ($size >= LARGE_PAYLOAD) {
        unshift(@kept_payloads, [$key, $text]);
        splice(@kept_payloads, 2);
    }
    return $text;
}

# history times of a batch: microseconds since the previous one, the first since t0 (PROTOCOL.md 2.4)
my $last_us;
sub delta () {
    my $now = now_us();
    my $delta = $now - $last_us;
    $last_us = $now;
    return $delta;
}

# one step of a batch: returns its result, or ends its row with the error and dies "STOP";
# a failed iteration (no row) gets a row [null, delta, error] of its own
sub step ($$$$) {
    my ($rows, $row, $op, $code) = @_;
    my @result = eval { $code->() };
    return wantarray ? @result : $result[0] unless $@;
    my $error = failure($op, $@);
    if ($row) { push(@$row, delta(), $error) } else { push(@$rows, [undef, delta(), $error]) }
    die "STOP\n";
}

# the completion of a step that raised, as an event: fail, or info when its effect is unknown
sub ended ($$$$) {
    my ($op, $where, $error, $time) = @_;
    return { type => $error->{effect} eq "unknown" ? "info" : "fail", op => $op, %$where, error => $error, time => $time };
}

# compact rows -> the events form (PROTOCOL.md 2.3, deprecated), for requests without history "compact"
sub events ($$$) {
    my ($form, $time, $rows) = @_;
    my @events;
    my $index = 0;
    for my $row (@$rows) {
        if ($form eq "adds") {
            my ($sha, $invoke, $end, $outcome) = @$row;
            push(@events, { type => "invoke", op => "add", index => $index, sha256 => $sha, time => $time += $invoke });
            $time += $end;
            push(@events, ref($outcome) ? ended("add", { index => $index }, $outcome, $time)
                                        : { type => "ok", op => "add", index => $index, name => $outcome, time => $time });
            $index++;
            next;
        }
        my ($name, @items) = @$row;
        unless (defined($name)) {
            push(@events, ended("list", {}, $items[1], $time += $items[0]));
            next;
        }
        for my $op (qw(lock get remove)) {
            push(@events, { type => "invoke", op => $op, name => $name, time => $time += shift(@items) });
            $time += shift(@items);
            if (!@items and $op eq "lock") {
                push(@events, { type => "fail", op => "lock", name => $name, time => $time });
                last;
            }
            if (ref($items[0])) {
                push(@events, ended($op, { name => $name }, shift(@items), $time));
                last;
            }
            push(@events, { type => "ok", op => $op, name => $name, time => $time,
                            $op eq "get" ? (sha256 => shift(@items)) : () });
        }
    }
    return \@events;
}

# a batch result in the form the request asks for
sub batch_result ($$$$$) {
    my ($r, $done, $t0, $form, $rows) = @_;
    refuse("internal", "bad request: history must be events or compact")
        unless !defined($r->{history}) or $r->{history} =~ /^(events|compact)$/;
    return { count => $done, t0 => $t0, $form => $rows } if ($r->{history} || "") eq "compact";
    return { count => $done, history => events($form, $t0, $rows) };
}

my %OP;

$OP{hello} = sub {
    my ($r) = @_;
    refuse("unsupported", "this driver speaks protocol $PROTOCOL") unless ($r->{protocol} || 0) == $PROTOCOL;
    unless ($loaded) {
        eval { require Directory::Queue; require Directory::Queue::Set; 1 }
            or refuse("unsupported", "implementation unavailable: $@");
        $loaded = 1;
    }
    return {
        protocol       => $PROTOCOL,
        implementation => { name => "perl-Directory-Queue", language => "perl",
                             version => $Directory::Queue::VERSION // "unknown" },
        queue_types    => [qw(simple normal null set)],
        roles          => [qw(producer consumer purger)],
        features       => ["batch", "compact-history"],
        options        => \%OPTIONS,
    };
};

$OP{open} = sub {
    my ($r) = @_;
    my $type = arg($r, "type");
    return new_handle(make_set($r->{members})) if $type eq "set";
    refuse("unsupported", "no $type queues") unless $CLASS{$type};
    my %option = %{ $r->{options} || {} };
    my %known = map { ($_ => 1) } @{ $OPTIONS{$type} };
    foreach my $name (sort(keys(%option))) {
        refuse("unsupported", "Directory::Queue $type queues have no option $name") unless $known{$name};
    }
    $option{path} = arg($r, "path") unless $type eq "null";
    $option{schema} = $r->{schema} if defined($r->{schema});
    my $queue = Directory::Queue->new(type => $CLASS{$type}, %option);
    return new_handle({ type => $type, queue => $queue, schema => $r->{schema} });
};

$OP{add} = sub {
    my ($r) = @_;
    my $entry = plain_queue($r);
    my $data = arg($r, "data");
    return $entry->{queue}->add(ref($data) ? decode_fields($entry, $data) : decode_base64($data));
};

$OP{add_path} = sub {
    my ($r) = @_;
    my $entry = plain_queue($r);
    my $method = method_of($entry, "add_path");
    return $entry->{queue}->$method(arg($r, "path"));
};

foreach my $op (qw(lock unlock)) {
    $OP{$op} = sub {
        my ($r) = @_;
        my @permissive = defined($r->{permissive}) ? ($r->{permissive} ? 1 : 0) : ();
        return plain_queue($r)->{queue}->$op(arg($r, "name"), @permissive) ? JSON::PP::true : JSON::PP::false;
    };
}

foreach my $op (qw(touch remove)) {
    $OP{$op} = sub { my ($r) = @_; plain_queue($r)->{queue}->$op(arg($r, "name")); return undef };
}

$OP{get_path} = sub {
    my ($r) = @_;
    my $entry = plain_queue($r);
    my $method = method_of($entry, "get_path");
    return $entry->{queue}->$method(arg($r, "name"));
};

$OP{get} = sub {
    my ($r) = @_;
    my $entry = plain_queue($r);
    return encode_fields($entry, scalar($entry->{queue}->get(arg($r, "name")))) if $entry->{type} eq "normal";
    return encode_base64($entry->{queue}->get(arg($r, "name")), "");
};

$OP{count} = sub { my ($r) = @_; 0 + queue_of($r)->{queue}->count() };

$OP{list} = sub {
    my ($r) = @_;
    my $entry = queue_of($r);
    return $entry->{type} eq "set" ? set_pairs($entry) : names($entry->{queue});
};

$OP{purge} = sub {
    my ($r) = @_;
    my %option = map { defined($r->{$_}) ? ($_ => $r->{$_}) : () } qw(maxtemp maxlock);
    plain_queue($r)->{queue}->purge(%option);
    return undef;
};

$OP{set_list} = sub { my ($r) = @_; set_pairs(make_set($r->{queues})) };

$OP{set_add} = sub {
    my ($r) = @_;
    my $entry = queue_set($r);
    my $member = queue_of({ queue => arg($r, "member") });
    $entry->{queue}->add($member->{queue});
    $entry->{members}{ $member->{queue}->id() } = $r->{member};
    return undef;
};

$OP{set_remove} = sub {
    my ($r) = @_;
    queue_set($r)->{queue}->remove(queue_of({ queue => arg($r, "member") })->{queue});
    return undef;
};

foreach my $op (qw(first next)) {
    $OP{"set_$op"} = sub { my ($r) = @_; my $entry = queue_set($r); set_pair($entry, $entry->{queue}->$op()) };
}

$OP{close} = sub { my ($r) = @_; queue_of($r); delete($handle{ $r->{queue} }); return undef };

$OP{shutdown} = sub { $stopping = 1; return undef };

$OP{produce} = sub {
    my ($r) = @_;
    my $entry = plain_queue($r);
    my ($count, $size, $seed) = (arg($r, "count"), arg($r, "size"), arg($r, "seed"));
    my $field = $entry->{type} eq "normal" ? arg($r, "field") : undef;
    my $t0 = $last_us = now_us();
    my (@rows, $done);  # [sha256, delta invoke, delta end, name | error]
    $done = 0;
    eval {
        for my $index (0 .. $count - 1) {
            my $data = payload($seed, $index, $size);
            my $row = [sha256_hex($data), delta()];
            push(@rows, $row);
            my $value = !defined($field) ? $data : by_ref($entry, $field) ? { $field => \$data } : { $field => $data };
            my $name = step(\@rows, $row, "add", sub { $entry->{queue}->add($value) });
            push(@$row, delta(), $name);
            $done++;
        }
        1;
    } or do { die $@ unless $@ eq "STOP\n" };
    return batch_result($r, $done, $t0, "adds", \@rows);
};

$OP{consume} = sub {
    my ($r) = @_;
    my $entry = plain_queue($r);
    my $queue = $entry->{queue};
    my $limit = $r->{limit};
    my $hold = $r->{hold} || 0;
    my $field = $entry->{type} eq "normal" ? arg($r, "field") : undef;
    my $t0 = $last_us = now_us();
    my (@rows, $done, $progress);  # [name, delta x 4, sha256, delta x 2], cut short by a false lock or an error
    $done = 0;
    eval {
        $progress = 1;
        while ($progress and (!defined($limit) or $done < $limit)) {
            $progress = 0;
            my $name = step(\@rows, undef, "list", sub { $queue->first() });
            while ($name) {
                last if defined($limit) and $done >= $limit;
                my $row = [$name, delta()];
                push(@rows, $row);
                if (step(\@rows, $row, "lock", sub { $queue->lock($name, 1) })) {
                    push(@$row, delta(), delta());
                    my $value = step(\@rows, $row, "get", sub { scalar($queue->get($name)) });
                    my $bytes = defined($field) ? $value->{$field} : $value;
                    $bytes = $$bytes if ref($bytes) eq "SCALAR";
                    utf8::encode($bytes) if defined($field) and base_type($entry, $field) eq "string";
                    push(@$row, delta(), sha256_hex($bytes));
                    Time::HiRes::sleep($hold) if $hold;
                    push(@$row, delta());
                    step(\@rows, $row, "remove", sub { $queue->remove($name) });
                    push(@$row, delta());
                    $done++;
                    $progress = 1;
                } else {
                    push(@$row, delta());
                }
                $name = step(\@rows, undef, "list", sub { $queue->next() });
            }
        }
        1;
    } or do { die $@ unless $@ eq "STOP\n" };
    return batch_result($r, $done, $t0, "locks", \@rows);
};

# JSON::PP refuses a lone surrogate escape (PROTOCOL.md 1 allows them): each one is
# decoded as a marker string, then turned into that code point once the request is decoded.
my $SURROGATE = "\x{FDD0}surrogate:";

sub lone_surrogate ($) { return "\\ufdd0surrogate:$_[0]\\ufdd0" }

sub restore_surrogates {
    my ($value) = @_;
    if (ref($value) eq "HASH") {
        return { map { restore_surrogates($_) => restore_surrogates($value->{$_}) } keys(%$value) };
    }
    return [ map { restore_surrogates($_) } @$value ] if ref($value) eq "ARRAY";
    if (defined($value) and not ref($value)) {
        no warnings "surrogate";
        $value =~ s/\Q$SURROGATE\E([0-9a-fA-F]{4})\x{FDD0}/chr(hex($1))/ge;
    }
    return $value;
}

sub reply ($) {
    my ($line) = @_;
    $line =~ s{(\\\\)|\\u([dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?|\\u([dD][c-fC-F][0-9a-fA-F]{2})}
              { defined($1) ? $1 : defined($2) ? (defined($3) ? "\\u$2$3" : lone_surrogate($2)) : lone_surrogate($4) }ge;
    my $request = eval { restore_surrogates($JSON->decode($line)) };
    return { seq => undef, ok => JSON::PP::false, error => { kind => "internal", message => "request is not JSON: $@", effect => "none" } }
        unless ref($request) eq "HASH" and defined($request->{seq}) and defined($request->{op});
    my $op = $request->{op};
    my $code = $OP{$op};
    my $seq = 0 + $request->{seq};
    return { seq => $seq, ok => JSON::PP::false, error => { kind => "unsupported", message => "unknown op $op", effect => "none" } }
        unless $code;
    return { seq => $seq, ok => JSON::PP::false, error => { kind => "internal", message => "bad request: the first request must be hello", effect => "none" } }
        unless $loaded or $op eq "hello" or $op eq "shutdown";
    my $result = eval { $code->($request) };
    return { seq => $seq, ok => JSON::PP::false, error => failure($op, $@) } if $@;
    return { seq => $seq, ok => JSON::PP::true, result => $result };
}

# stdout is for protocol only: keep it, and send everything else to stderr
open(my $out, ">&", \*STDOUT) or die "cannot dup stdout: $!";
open(STDOUT, ">&", \*STDERR) or die "cannot redirect stdout: $!";
binmode($out);
binmode(STDIN);
$out->autoflush(1);
while (my $line = <STDIN>) {
    next unless $line =~ /\S/;
    my $reply = reply($line);
    print $out $JSON->encode($reply), "\n";
    last if $stopping;
}
exit(0);
