# bind.pl PORT: bind a TCP socket to PORT on the IPv4 wildcard address;
# print "ok", or the error (perl-base is in every Debian, python is not).
use strict;
use Socket;
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!\n";
if (bind($s, sockaddr_in($ARGV[0], INADDR_ANY))) { print "ok\n" } else { print "$!\n" }
