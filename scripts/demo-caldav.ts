import { startICloudEmulator } from '../dev/icloud-emulator';
import { startRadicale } from '../dev/radicale';

/**
 * `npm run demo:caldav`: a local Radicale behind the iCloud emulation, so the connect flow can be tried
 * without an Apple account. Prints the server URL and an Apple ID with a working app-specific password.
 * Needs Radicale (`apt-get install radicale`). Stops on Ctrl+C.
 */
async function main(): Promise<void> {
  const radicale = await startRadicale();
  const emulator = await startICloudEmulator(radicale);
  const account = emulator.addAccount('demo@icloud.example');
  console.log(`
Emulated iCloud CalDAV is running (backed by Radicale at ${radicale.url}).

Start the API against it in another terminal:
  ICLOUD_CALDAV_URL=${emulator.url} npm start

Connect with:
  Apple ID:               ${account.appleId}
  App-specific password:  ${account.appSpecificPassword}

The account has calendars "Calendar", "Work", a read-only "US Holidays" and a "Reminders" list
(which is not a calendar for events and is not offered). Press Ctrl+C to stop.`);
  const stop = async () => {
    await emulator.stop();
    await radicale.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
