// The device screen, drawn with Poco on the board's `screen`: a status line and the agent (or
// claim code) at the top, a job's QR in the middle, its caption and a countdown below. Only the
// part that changed is redrawn; the countdown ticks once a second while a QR with an expiry is up.
import Poco, { type PocoPrototype } from 'commodetto/Poco';
import type PixelsOut from 'commodetto/PixelsOut';
import parseBMF from 'commodetto/parseBMF';
import Resource from 'Resource';
import qrCode from 'qrcode';
import Timer from 'timer';
import type { Display, QrView } from '../core/platform';
import { agentLine, captionLine, countdownLine, type Identify } from '../core/display-text';
import { fontText } from '../core/font-text';
import { QR_MAX_VERSION, TEXT_LINE_PX, TEXT_MARGIN_PX as MARGIN, qrArea, qrScale } from '../../protocol/screen-fit';

/**
 * Built by mcconfig (fontbm) from the SDK's OpenSans-Semibold TrueType at 16 px, with the blocks
 * and characters of core/font-text.ts (manifest.json, `resources`).
 */
export const FONT_RESOURCE = 'OpenSans-Semibold-16.bf4';

interface Shown {
  view: QrView;
  code: ReturnType<typeof qrCode>;
  scale: number;
}

export class PocoDisplay implements Display, Identify {
  private readonly poco: PocoPrototype;
  private readonly font: ReturnType<typeof parseBMF>;
  private readonly line: number;
  private readonly colors: { ink: number; paper: number; bar: number; barInk: number; good: number; alert: number };
  private statusText = '';
  private agentText = '';
  private shown: Shown | undefined;
  private isPaid = false;
  private ticker: Timer | undefined;
  private flasher: Timer | undefined;
  private flashOn = false;

  constructor(
    screen: PixelsOut,
    private readonly now: () => number,
    private readonly deviceId: () => string,
  ) {
    this.poco = new Poco(screen, { displayListLength: 4096 });
    this.font = parseBMF(new Resource(FONT_RESOURCE));
    // The broker judges what fits with the same line height (protocol/screen-fit.ts).
    if (this.font.height > TEXT_LINE_PX) throw new Error(`font is ${this.font.height} px high; a text line has ${TEXT_LINE_PX}`);
    this.line = TEXT_LINE_PX;
    const c = (r: number, g: number, b: number): number => this.poco.makeColor(r, g, b);
    this.colors = { ink: c(0, 0, 0), paper: c(255, 255, 255), bar: c(0, 48, 96), barInk: c(255, 255, 255), good: c(0, 128, 0), alert: c(192, 0, 0) };
    this.drawAll();
  }

  status(line: string): void {
    this.statusText = line;
    this.drawHeader();
  }

  agent(name: string | null, claimCode?: string): void {
    this.agentText = agentLine(name, claimCode);
    this.drawHeader();
  }

  showQr(view: QrView): void {
    const code = qrCode({ input: view.text, maxVersion: QR_MAX_VERSION });
    const scale = qrScale(this.poco, code.size);
    if (scale < 1) {
      const body = this.body();
      throw new Error(`QR code of ${code.size} modules does not fit a ${body.width}x${body.height} area`);
    }
    this.shown = { view, code, scale };
    this.isPaid = false;
    this.stopTicker();
    if (view.expiresAt !== undefined) this.ticker = Timer.repeat(() => this.drawFooter(), 1000);
    this.drawBody();
    this.drawFooter();
  }

  clearQr(): void {
    this.shown = undefined;
    this.isPaid = false;
    this.stopTicker();
    this.drawBody();
    this.drawFooter();
  }

  paid(): void {
    this.isPaid = true;
    this.stopTicker();
    this.drawBody();
    this.drawFooter();
  }

  identify(seconds: number): void {
    this.stopFlasher();
    if (seconds > 0) {
      let halfSeconds = seconds * 2;
      this.flashOn = true;
      this.flasher = Timer.repeat(() => {
        if (--halfSeconds <= 0) this.stopFlasher();
        else this.flashOn = !this.flashOn;
        this.drawBody();
      }, 500);
    }
    this.drawBody();
  }

  private body(): { x: number; y: number; width: number; height: number } {
    return { x: 0, y: 2 * this.line, ...qrArea(this.poco) };
  }

  private drawAll(): void {
    this.drawHeader();
    this.drawBody();
    this.drawFooter();
  }

  private drawHeader(): void {
    const { poco, font, line, colors } = this;
    poco.begin(0, 0, poco.width, 2 * line);
    poco.fillRectangle(colors.bar, 0, 0, poco.width, line);
    poco.drawText(fontText(this.statusText), font, colors.barInk, MARGIN, 2, poco.width - 2 * MARGIN);
    poco.fillRectangle(colors.paper, 0, line, poco.width, line);
    poco.drawText(fontText(this.agentText), font, colors.ink, MARGIN, line + 2, poco.width - 2 * MARGIN);
    poco.end();
  }

  private drawBody(): void {
    const { poco, font, colors } = this;
    const b = this.body();
    poco.begin(b.x, b.y, b.width, b.height);
    poco.fillRectangle(this.flashOn ? colors.ink : colors.paper, b.x, b.y, b.width, b.height);
    const middle = b.y + ((b.height - font.height) >> 1);
    if (this.flasher) {
      this.centre('IDENTIFY', this.flashOn ? colors.paper : colors.ink, middle - this.line);
      this.centre(this.deviceId(), this.flashOn ? colors.paper : colors.ink, middle);
    } else if (this.isPaid) {
      this.centre('PAID', colors.good, middle);
    } else if (this.shown) {
      const { code, scale } = this.shown;
      const side = code.size * scale;
      poco.drawQRCode(code, b.x + ((b.width - side) >> 1), b.y + ((b.height - side) >> 1), scale, colors.ink);
    } else {
      this.centre(this.deviceId(), colors.ink, middle);
    }
    poco.end();
  }

  private drawFooter(): void {
    const { poco, font, line, colors } = this;
    const top = poco.height - 2 * line;
    poco.begin(0, top, poco.width, 2 * line);
    poco.fillRectangle(colors.paper, 0, top, poco.width, 2 * line);
    const view = this.shown?.view;
    if (view) {
      poco.drawText(fontText(captionLine(view)), font, colors.ink, MARGIN, top + 2, poco.width - 2 * MARGIN);
      const countdown = this.isPaid ? '' : countdownLine(view, this.now());
      if (countdown) poco.drawText(countdown, font, colors.alert, MARGIN, top + line + 2, poco.width - 2 * MARGIN);
    }
    poco.end();
  }

  private centre(raw: string, color: number, y: number): void {
    const text = fontText(raw);
    const width = Math.min(this.poco.getTextWidth(text, this.font), this.poco.width - 2 * MARGIN);
    this.poco.drawText(text, this.font, color, (this.poco.width - width) >> 1, y, this.poco.width - 2 * MARGIN);
  }

  private stopFlasher(): void {
    Timer.clear(this.flasher);
    this.flasher = undefined;
    this.flashOn = false;
  }

  private stopTicker(): void {
    Timer.clear(this.ticker);
    this.ticker = undefined;
  }
}
