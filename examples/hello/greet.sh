#!/bin/sh
echo "hello from @NAME@: built without a daemon, running as $(id -u)"
