#!/bin/bash
# Healthy when ZooKeeper serves requests: the srvr four-letter word reports a Mode only then
# ("ruok" already answers "imok" while the server is still starting and turns sessions away).
exec 3<>/dev/tcp/127.0.0.1/2181 || exit 1
printf srvr >&3
while read -r -t 3 line <&3; do
  [[ $line == Mode:* ]] && exit 0
done
exit 1
