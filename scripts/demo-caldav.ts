import { startICloudEmulator, type ICloudEmulator } from '../dev/icloud-emulator';
import { startRadicale, type RadicaleServer } from '../dev/radicale';
import { connectPhone, demoPort, demoSeeds, DEMO_APPLE_ID, DEMO_DEFAULT_PORT, DEMO_PASSWORD, DEMO_ZONE, nextMonday, phoneEvent, wallTime } from './demo-phone';

/**
 * `npm run demo:caldav`: a local Radicale behind the iCloud emulation, so the README walkthrough can be pasted
 * without an Apple account. Always the same account (demo@icloud.example, app-specific password
 * abcd-efgh-ijkl-mnop) on the same port (8008, or DEMO_PORT; 0 picks a free one). Seeds a few events as the
 * iPhone would (a recurring lunch, a dentist appointment next Monday in "Work", a school run in "Calendar"),
 * then prints the line that starts the server against it and ready `npm run demo:phone` commands.
 * Needs Radicale (`apt-get install radicale`). Stops on Ctrl+C.
 */
async function main(): Promise<void> {
  const port = demoPort();
  let radicale: RadicaleServer | undefined;
  let emulator: ICloudEmulator | undefined;
  const stop = async (code = 0) => {
    await emulator?.stop();
    await radicale?.stop();
    process.exit(code);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  try {
    radicale = await startRadicale();
    emulator = await startICloudEmulator(radicale, { port }).catch((e: Error) => {
      throw new Error(`${e.message} (set DEMO_PORT to another port, or 0 for any free one)`);
    });
    const account = emulator.addAccount(DEMO_APPLE_ID, DEMO_PASSWORD);
    const demo = await connectPhone(emulator.url, account.appleId, account.appSpecificPassword);
    const monday = nextMonday();
    const seeds = demoSeeds(monday);
    for (const seed of seeds) await demo.phone.put(demo.slugOf(seed.calendar), phoneEvent(seed), `${seed.uid.split('@')[0].toUpperCase()}.ics`);

    const actualPort = new URL(emulator.url).port;
    const phoneEnv = Number(actualPort) === DEMO_DEFAULT_PORT ? '' : `DEMO_PORT=${actualPort} `;
    console.log(`
Emulated iCloud CalDAV is running at ${emulator.url} (backed by Radicale at ${radicale.url}).

Start the API against it in another terminal:
  ICLOUD_CALDAV_URL=${emulator.url} SYNC_NOW_MIN_INTERVAL_SECONDS=0 npm start

Connect with:
  Apple ID:               ${account.appleId}
  App-specific password:  ${account.appSpecificPassword}

The account has calendars "Calendar", "Work", a read-only "US Holidays" and a "Reminders" list
(which is not a calendar for events and is not offered). Seeded from the "phone" (${DEMO_ZONE} time; the
slots named are those of the README's "Consultation" calendar, open Monday to Friday 09:00-17:00):
${seeds.map((s) => `  ${s.calendar.padEnd(9)} ${`"${s.summary}"`.padEnd(13)} ${s.note}`).join('\n')}

Act as the iPhone (times in ${DEMO_ZONE}, or instants such as ${wallTime(`${monday}T09:00`).toISOString()}):
  ${phoneEnv}npm run demo:phone -- list
  ${phoneEnv}npm run demo:phone -- add "Call with the bank" ${monday}T09:00 30     # over a 09:00 booking: DOUBLE_BOOKING at the next sync
  ${phoneEnv}npm run demo:phone -- move "Consultation" ${monday}T14:00           # moves a CRM appointment: the CRM follows at the next sync

Then follow the README walkthrough from step 3 ("Get tokens"). Press Ctrl+C to stop.`);
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    await stop(1);
  }
}

void main();
