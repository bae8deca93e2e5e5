// Keep test logs quiet unless asked for; never leak the developer's own env into config parsing.
process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? 'error';
