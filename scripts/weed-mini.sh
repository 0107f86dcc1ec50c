# weed-mini.sh is sourced, not run, by bench/fleet.sh and
# scripts/fleet-demo.sh: it sets up SeaweedFS's `weed mini` (the binary
# scripts/seaweedfs.sh builds) as an S3 server on loopback, as
# internal/s3test does for the Go tests.

# weed_mini WORK BUCKET sets weed_args, the arguments of a `weed mini` that
# keeps its data in WORK/s3 and serves BUCKET, and s3_endpoint, its S3 URL.
# Every port weed opens is set to a free loopback port below the ephemeral
# range, so that none is taken by an outgoing connection while the server
# is stopped: a restart with the same weed_args comes back where it was.
weed_mini() {
	local work=$1 bucket=$2 p
	read -r -a p <<< "$(python3 - << 'PY'
import random, socket
found = set()
while len(found) < 12:
    p = random.randrange(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        found.add(p)
    except OSError:
        pass
    finally:
        s.close()
print(" ".join(map(str, found)))
PY
)"
	mkdir -p "$work/s3"
	weed_args=(mini -dir="$work/s3" -ip=127.0.0.1 -ip.bind=127.0.0.1 -bucket="$bucket" -master.telemetry=false
		-master.port="${p[0]}" -master.port.grpc="${p[1]}" -volume.port="${p[2]}" -volume.port.grpc="${p[3]}"
		-filer.port="${p[4]}" -filer.port.grpc="${p[5]}" -filer.localSocket="$work/filer.sock"
		-s3.port="${p[6]}" -s3.port.grpc="${p[7]}" -s3.port.iceberg=0 -s3.port.lance=0 -s3.localSocket="$work/s3.sock"
		-webdav=false -webdav.port="${p[8]}" -admin.ui=false -admin.port="${p[9]}" -admin.port.grpc="${p[10]}"
		-admin.port.legacy=0 -debug.port="${p[11]}" -s3.debug.port="${p[11]}")
	s3_endpoint=http://127.0.0.1:${p[6]}
}

# s3_ready FLEETCTL STORE waits up to a minute for the model store STORE (an
# s3:// URL) to answer FLEETCTL's `active`, with its active version or "no
# active model"; it returns 1 if the store never answers.
s3_ready() {
	local out
	for _ in $(seq 1 300); do
		if out=$("$1" active -store "$2" 2>&1) || [[ $out == *"no active model"* ]]; then
			return 0
		fi
		sleep 0.2
	done
	return 1
}
