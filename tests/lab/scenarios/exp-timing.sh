source "$(dirname "${BASH_SOURCE[0]}")/../vault-lib.sh"
dev=$(lab_attach t 128M)
wait_state "$dev" empty
path=$(busctl --system call org.vaultd.Vault1 /org/vaultd/Vault1 org.vaultd.Vault1.Manager Resolve s "$dev" | awk '{print $2}' | tr -d '"')
t0=$(date +%s%N)
for i in $(seq 50); do busctl --system call org.vaultd.Vault1 /org/vaultd/Vault1 org.vaultd.Vault1.Manager Resolve s "$dev" >/dev/null; done
t1=$(date +%s%N)
for i in $(seq 50); do busctl --system call org.vaultd.Vault1 "$path" org.vaultd.Vault1.Volume Unmount a{sv} 0 >/dev/null; done
t2=$(date +%s%N)
for i in $(seq 50); do busctl --system call org.vaultd.Vault1 "$path" org.vaultd.Vault1.Volume Unmount a{sv} 1 nope b true >/dev/null 2>&1 || true; done
t3=$(date +%s%N)
for i in $(seq 50); do busctl --system call org.freedesktop.PolicyKit1 /org/freedesktop/PolicyKit1/Authority org.freedesktop.PolicyKit1.Authority CheckAuthorization "(sa{sv})sa{ss}us" unix-process 2 pid u $$ start-time t 0 org.vaultd.mount 0 0 "" >/dev/null 2>&1 || true; done
t4=$(date +%s%N)
echo "resolve: $(( (t1-t0)/50000000 )) ms/call; unmount(no-op, polkit+inspect): $(( (t2-t1)/50000000 )) ms/call; bad option: $(( (t3-t2)/50000000 )) ms/call; polkit direct: $(( (t4-t3)/50000000 )) ms/call"
