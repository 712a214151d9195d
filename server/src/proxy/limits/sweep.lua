-- Gives back the places of leases past their expiry (their replica died, or they never
-- settled): up to ARGV[2] of them. KEYS[1] the lease index; ARGV[1] now. Answers how many.
return sweep(KEYS[1], ARGV[1], tonumber(ARGV[2]))
