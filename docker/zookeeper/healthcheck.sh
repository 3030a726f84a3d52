#!/bin/bash
# Healthy when ZooKeeper answers "imok" to the ruok four-letter word.
exec 3<>/dev/tcp/127.0.0.1/2181 || exit 1
printf ruok >&3
read -r -t 2 -n 4 answer <&3
[ "$answer" = imok ]
